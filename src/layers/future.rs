//! The response future of [`WasimoffService`](super::WasimoffService): the host's future runs
//! unboxed; only the broker's own handling is boxed.

use super::{Body, ResponseBody};
use futures_util::future::BoxFuture;
use http::Response;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project! {
    /// Either the inner service's future or the broker's own.
    #[project = ResponseFutureProjection]
    #[allow(missing_docs)] // each variant's one field is its future, described on the variant
    pub enum ResponseFuture<F> {
        /// The host application answers: `future` is the host's, unboxed.
        Inner { #[pin] future: F },
        /// The broker answers: `future` is its own, boxed.
        Own { future: BoxFuture<'static, Response<Body>> },
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ResponseFutureProjection::Inner { future } => {
                future.poll(cx).map(|result| result.map(|response| response.map(|body| ResponseBody::Inner { body })))
            }
            ResponseFutureProjection::Own { future } => {
                future.as_mut().poll(cx).map(|response| Ok(response.map(|body| ResponseBody::Own { body })))
            }
        }
    }
}
