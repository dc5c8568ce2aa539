//! Security headers on every response: no MIME sniffing, no framing (`frame-ancestors
//! 'none'`, `X-Frame-Options: DENY`), no referrer; API responses are not stored by caches.
//! A JSON answer gets `default-src 'none'`; an HTML page (the Swagger UI, and any page served
//! with this middleware) may load its own scripts, styles and images and nothing else.

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderValue, header},
};

/// The policy of a non-HTML answer: it loads nothing and is framed by nobody.
pub const CSP_API: &str = "default-src 'none'; frame-ancestors 'none'";
/// The policy of an HTML page (the Swagger UI runs inline scripts and styles).
pub const CSP_PAGE: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
                            img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
                            frame-ancestors 'none'";

/// The middleware (see the module doc).
#[derive(Debug, Clone, Copy, Default)]
pub struct SecurityHeaders;

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        SecurityHeadersEndpoint { inner: ep }
    }
}

#[derive(Debug)]
pub struct SecurityHeadersEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let api = req.uri().path().starts_with(crate::API_PREFIX);
        let mut resp = self.inner.get_response(req).await;
        let html = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let h = resp.headers_mut();
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(if html { CSP_PAGE } else { CSP_API }));
        if api && !h.contains_key(header::CACHE_CONTROL) {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Ok(resp.into_response())
    }
}
