//! [`WasimoffLayer`] / [`WasimoffService`] (prefix routing in front of a host service) and
//! [`ApiService`] (the broker alone, for `nest_service`).

use super::{Body, BodyError, BoxError, ResponseFuture, below_prefix};
use crate::Wasimoff;
use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use http::{Request, Response};
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Serves the broker under its prefix (default `/wasimoff`) and passes every other request to
/// the wrapped service unchanged. Made by [`Builder::build_layer`](crate::Builder::build_layer)
/// or [`Wasimoff::layer`].
#[derive(Clone, Debug)]
pub struct WasimoffLayer {
    broker: Wasimoff,
}

impl WasimoffLayer {
    pub(crate) fn new(broker: Wasimoff) -> WasimoffLayer {
        WasimoffLayer { broker }
    }
}

impl<S> Layer<S> for WasimoffLayer {
    type Service = WasimoffService<S>;

    fn layer(&self, inner: S) -> WasimoffService<S> {
        WasimoffService { inner, broker: self.broker.clone() }
    }
}

/// The service made by [`WasimoffLayer`].
#[derive(Clone, Debug)]
pub struct WasimoffService<S> {
    inner: S,
    broker: Wasimoff,
}

fn into_own_body<B>(request: Request<B>) -> Request<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    request.map(|body| body.map_err(BodyError::new).boxed_unsync())
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for WasimoffService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response<super::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let Some(path) = below_prefix(self.broker.prefix(), request.uri().path()).map(str::to_string) else {
            return ResponseFuture::Inner { future: self.inner.call(request) };
        };
        let broker = self.broker.clone();
        let request = into_own_body(request);
        ResponseFuture::Own { future: async move { crate::api::respond(broker, path, request).await }.boxed() }
    }
}

/// The broker as a standalone service whose paths are relative to the mount point, for
/// `axum::Router::nest_service` (which strips the prefix) and similar routers.
///
/// ```no_run
/// # fn demo(broker: wasimoff::Wasimoff) {
/// let app: axum::Router = axum::Router::new().nest_service("/wasimoff", broker.service());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ApiService {
    broker: Wasimoff,
}

impl ApiService {
    pub(crate) fn new(broker: Wasimoff) -> ApiService {
        ApiService { broker }
    }
}

impl<B> Service<Request<B>> for ApiService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let broker = self.broker.clone();
        let path = request.uri().path().to_string();
        let request = into_own_body(request);
        async move { Ok(crate::api::respond(broker, path, request).await) }.boxed()
    }
}
