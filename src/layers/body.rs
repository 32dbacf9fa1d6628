//! One response body type for the host's responses (passed through untouched) and the
//! broker's own.

use super::{Body, BoxError};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project! {
    /// The body of a response from [`WasimoffService`](super::WasimoffService): either the
    /// inner service's body, unchanged and unboxed, or the broker's own.
    #[project = ResponseBodyProjection]
    #[allow(missing_docs)] // each variant's one field is its body, described on the variant
    pub enum ResponseBody<B> {
        /// A response of the host application: `body` is the host's, untouched.
        Inner { #[pin] body: B },
        /// A response of the broker: `body` is its own.
        Own { #[pin] body: Body },
    }
}

impl<B> http_body::Body for ResponseBody<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project() {
            ResponseBodyProjection::Inner { body } => body.poll_frame(cx).map(|frame| frame.map(|f| f.map_err(Into::into))),
            ResponseBodyProjection::Own { body } => body.poll_frame(cx).map(|frame| frame.map(|f| f.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Inner { body } => body.is_end_stream(),
            ResponseBody::Own { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Inner { body } => body.size_hint(),
            ResponseBody::Own { body } => body.size_hint(),
        }
    }
}
