//! A cap on request bodies: forms and actions are tiny, so anything larger is refused (413)
//! before a handler reads it. Bodies are read up to the cap whether or not a
//! `Content-Length` was sent.

use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, http::StatusCode};

use crate::problem::Problem;

/// The cap.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint { inner: ep, max: self.0 }
    }
}

/// An endpoint behind a [`BodyLimit`].
#[derive(Debug)]
pub struct BodyLimitEndpoint<E> {
    inner: E,
    max: usize,
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if !req.method().is_safe() {
            match req.take_body().into_bytes_limit(self.max).await {
                Ok(bytes) => req.set_body(Body::from(bytes)),
                Err(_) => {
                    return Ok(Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("the body must be at most {} bytes", self.max),
                    )
                    .into_response());
                }
            }
        }
        Ok(self.inner.call(req).await?.into_response())
    }
}
