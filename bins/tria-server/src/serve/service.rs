//! The per-connection service hyper calls: it tells the connection's [`Connection`] when a
//! request starts and when its response has been handed over, gives handlers the connection
//! (for per-connection limits), and wraps every response body so the supervisor sees a client
//! that stops taking it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tower::ServiceExt;

use super::connection::{Connection, RequestGuard};

/// The connection a request came in on, in the request's extensions (absent when the router
/// is driven in-process without a socket).
#[derive(Clone, Debug)]
pub(crate) struct ConnectionHandle(pub Arc<Connection>);

#[derive(Clone)]
pub(crate) struct ConnectionService {
    pub router: Router,
    pub connection: Arc<Connection>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let guard = self.connection.request_started();
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectionHandle(self.connection.clone()));
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(req).await?;
            // The response is ready; until hyper takes its first frame, it waits on the client.
            guard.waiting_on_client();
            Ok(response.map(|body| TrackedBody { inner: body, guard: Some(guard) }))
        })
    }
}

/// A response body that reports to its connection whether it is waiting on the client (a
/// frame produced and not yet taken) or on the server (producing the next frame).
pub(crate) struct TrackedBody {
    inner: Body,
    guard: Option<RequestGuard>,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(guard) = &self.guard {
            guard.polled();
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => {
                if self.inner.is_end_stream() {
                    self.guard = None;
                } else if let Some(guard) = &self.guard {
                    guard.waiting_on_client();
                }
            }
            Poll::Ready(None | Some(Err(_))) => self.guard = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
