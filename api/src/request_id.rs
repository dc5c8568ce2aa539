//! `X-Request-Id`: the client's when it is short and printable, else a new UUID; echoed on
//! every response and recorded on the request's span, so every log line of the request
//! carries it. The span also logs how each request ended.

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderName, HeaderValue},
};
use std::time::Instant;
use tracing::Instrument;

use crate::problem::Problem;

/// The header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-supplied id accepted.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// The request's id, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIdValue(pub String);

/// A client's id, if it is 1 to 64 characters of `A-Z a-z 0-9 - _ . :` (nothing a log or a
/// header could be confused by).
pub fn accepted(value: &HeaderValue) -> Option<&str> {
    let s = value.to_str().ok()?;
    let ok = (1..=MAX_REQUEST_ID_LEN).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then_some(s)
}

/// The middleware (see the module doc). Outermost, so that every response has the header.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestId;

impl<E: Endpoint> Middleware<E> for RequestId {
    type Output = RequestIdEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestIdEndpoint { inner: ep }
    }
}

#[derive(Debug)]
pub struct RequestIdEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for RequestIdEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let id = req
            .headers()
            .get(&REQUEST_ID)
            .and_then(accepted)
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.uri().path(),
            role = tracing::field::Empty,
            key_id = tracing::field::Empty,
        );
        req.extensions_mut().insert(RequestIdValue(id.clone()));
        async move {
            let started = Instant::now();
            let mut resp = match self.inner.call(req).await {
                Ok(r) => r.into_response(),
                Err(e) => Problem::from_poem(&e).into_response(),
            };
            let status = resp.status().as_u16();
            let ms = started.elapsed().as_secs_f64() * 1e3;
            tracing::info!(status, duration_ms = format_args!("{ms:.1}"), "request finished");
            if let Ok(v) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert(REQUEST_ID, v);
            }
            Ok(resp)
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_printable_id_is_accepted_and_others_are_not() {
        let ok = |s: &str| accepted(&HeaderValue::from_str(s).unwrap()).is_some();
        assert!(ok("req-42.a_b:c"));
        assert!(ok(&uuid::Uuid::new_v4().to_string()));
        assert!(!ok(""));
        assert!(!ok(&"a".repeat(MAX_REQUEST_ID_LEN + 1)));
        assert!(!ok("has space"));
        assert!(!ok("quote\"d"));
    }
}
