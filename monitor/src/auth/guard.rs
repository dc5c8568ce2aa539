//! The middleware in front of every page and JSON endpoint: a live session (its expiry slides
//! with each request), and on every action (any method but GET/HEAD/OPTIONS) the session's
//! CSRF token, from the `X-CSRF-Token` header or, for pages, the `csrf_token` form field.

use chrono::{DateTime, Utc};
use goodrobot_ports::SessionToken;
use poem::{
    Body, Endpoint, IntoResponse, Middleware, Request, Response,
    http::{HeaderValue, StatusCode, header},
};

use crate::{
    auth::{
        csrf::{self, CSRF_FIELD, CSRF_HEADER},
        session::session_token,
    },
    pages::layout::{error_page, percent_encode},
    problem::{Problem, ProblemExt},
    state::MonitorState,
};

/// Who the request is from: set by [`Guard`] for the handlers behind it.
#[derive(Clone, Debug)]
pub struct Authed {
    pub token: SessionToken,
    /// The session's CSRF token (pages embed it; the script sends it back).
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// What a refused request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardKind {
    /// A redirect to the login page, or an HTML error page.
    Page,
    /// A problem+json 401 or 403.
    Api,
}

/// The session and CSRF check.
#[derive(Clone, Debug)]
pub struct Guard {
    state: MonitorState,
    kind: GuardKind,
}

impl Guard {
    pub fn new(state: MonitorState, kind: GuardKind) -> Self {
        Self { state, kind }
    }
}

impl<E: Endpoint> Middleware<E> for Guard {
    type Output = GuardEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        GuardEndpoint { inner: ep, guard: self.clone() }
    }
}

/// An endpoint behind a [`Guard`].
#[derive(Debug)]
pub struct GuardEndpoint<E> {
    inner: E,
    guard: Guard,
}

/// The `csrf_token` field of a urlencoded form (the token is base64url: never escaped).
fn form_field<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl<E: Endpoint> GuardEndpoint<E> {
    fn unauthenticated(&self, req: &Request) -> Response {
        match self.guard.kind {
            GuardKind::Api => Problem::unauthenticated().into_response(),
            GuardKind::Page => {
                let next = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let next = if req.method() == poem::http::Method::GET { next } else { "/" };
                Response::builder()
                    .status(StatusCode::SEE_OTHER)
                    .header(header::LOCATION, format!("/login?next={}", percent_encode(next)))
                    .finish()
            }
        }
    }

    fn csrf_failed(&self) -> Response {
        match self.guard.kind {
            GuardKind::Api => Problem::csrf_failed().into_response(),
            GuardKind::Page => error_page(
                StatusCode::FORBIDDEN,
                "Refused",
                "The form was not sent with this session's CSRF token. Reload the page and try again.",
            ),
        }
    }

    /// Whether the request carries the session's CSRF token (reads a form body and puts it
    /// back for the handler).
    async fn has_csrf(&self, req: &mut Request, expected: &str) -> poem::Result<bool> {
        if let Some(sent) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
            return Ok(csrf::same(sent, expected));
        }
        if self.guard.kind == GuardKind::Api {
            return Ok(false);
        }
        let bytes = req.take_body().into_bytes().await?;
        let ok = form_field(&bytes, CSRF_FIELD).is_some_and(|sent| csrf::same(sent, expected));
        req.set_body(Body::from(bytes));
        Ok(ok)
    }
}

impl<E: Endpoint> Endpoint for GuardEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let Some(token) = session_token(&req) else {
            return Ok(self.unauthenticated(&req));
        };
        let session = match self.guard.state.deps.sessions.touch(&token, self.guard.state.config.session_ttl).await {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(self.unauthenticated(&req)),
            Err(e) => return Ok(Problem::from(e).into_response()),
        };
        let expected = csrf::token_for(&token);
        if !req.method().is_safe() && !self.has_csrf(&mut req, &expected).await? {
            tracing::warn!(method = %req.method(), path = req.uri().path(), "action refused: missing or wrong CSRF token");
            return Ok(self.csrf_failed());
        }
        req.extensions_mut().insert(Authed { token, csrf: expected, expires_at: session.expires_at });
        let mut resp = self.inner.call(req).await?.into_response();
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_field_is_found_in_a_form_body() {
        assert_eq!(form_field(b"a=1&csrf_token=abc-_x&b=2", CSRF_FIELD), Some("abc-_x"));
        assert_eq!(form_field(b"a=1", CSRF_FIELD), None);
    }
}
