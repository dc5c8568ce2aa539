//! Who is calling: the middleware that reads `Authorization: Bearer <key>` on every
//! `/api/v1` request (so the rate limiter can key on the caller), and the gate that refuses
//! a request without a valid key (401) unless no key is configured or it is a probe.

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result, http::header};
use std::sync::Arc;

use super::keys::{ApiKeys, KeyId, KeyRole};
use crate::problem::{Problem, ProblemExt};

/// The caller of a request, as [`Authenticate`] found it (in the request's extensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No key is configured: the API is open (on loopback only) and every caller is an admin.
    Open,
    /// A configured key.
    Key { role: KeyRole, id: KeyId },
    /// No `Authorization: Bearer …` header.
    Anonymous,
    /// A bearer token that is not a configured key.
    BadKey,
}

impl Caller {
    /// The role the caller acts with, if it may act at all.
    pub fn role(self) -> Option<KeyRole> {
        match self {
            Self::Open => Some(KeyRole::Admin),
            Self::Key { role, .. } => Some(role),
            Self::Anonymous | Self::BadKey => None,
        }
    }
}

/// `/health` and `/ready` (paths inside `/api/v1`): open, never limited.
pub fn is_probe(req: &Request) -> bool {
    matches!(req.uri().path(), "/health" | "/ready")
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Identifies the caller and records its role and key id (never the key) on the request span.
#[derive(Debug, Clone)]
pub struct Authenticate {
    pub keys: Arc<ApiKeys>,
}

impl<E: Endpoint> Middleware<E> for Authenticate {
    type Output = AuthenticateEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        AuthenticateEndpoint { inner: ep, keys: self.keys.clone() }
    }
}

#[derive(Debug)]
pub struct AuthenticateEndpoint<E> {
    inner: E,
    keys: Arc<ApiKeys>,
}

impl<E: Endpoint> Endpoint for AuthenticateEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let caller = if self.keys.is_empty() {
            Caller::Open
        } else {
            match bearer(&req) {
                None => Caller::Anonymous,
                Some(token) => match self.keys.identify(token) {
                    Some((role, id)) => Caller::Key { role, id },
                    None => Caller::BadKey,
                },
            }
        };
        let span = tracing::Span::current();
        match caller {
            Caller::Key { role, id } => {
                span.record("role", role.as_str());
                span.record("key_id", tracing::field::display(id));
            }
            Caller::Open => {
                span.record("role", "open");
            }
            Caller::Anonymous | Caller::BadKey => {}
        }
        req.extensions_mut().insert(caller);
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// Refuses (401) a request whose caller has no valid key, except the probes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequireKey;

impl<E: Endpoint> Middleware<E> for RequireKey {
    type Output = RequireKeyEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequireKeyEndpoint { inner: ep }
    }
}

#[derive(Debug)]
pub struct RequireKeyEndpoint<E> {
    inner: E,
}

/// The 401 for a caller without a valid key.
pub fn unauthorized(caller: Caller) -> Problem {
    match caller {
        Caller::BadKey => Problem::unauthorized("the API key is not valid", true),
        _ => Problem::unauthorized("an API key is required: send `Authorization: Bearer <key>`", false),
    }
}

impl<E: Endpoint> Endpoint for RequireKeyEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let caller = req.extensions().get::<Caller>().copied().unwrap_or(Caller::Anonymous);
        if caller.role().is_none() && !is_probe(&req) {
            if caller == Caller::BadKey {
                tracing::info!("refused: an unknown API key");
            }
            return Ok(unauthorized(caller).into_response());
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::StatusCode;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_other_schemes_are_not_keys() {
        let req = |v: &str| Request::builder().header(header::AUTHORIZATION, v).finish();
        assert_eq!(bearer(&req("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&req("bearer abc")), Some("abc"));
        assert_eq!(bearer(&req("Basic abc")), None);
        assert_eq!(bearer(&req("Bearer")), None);
    }

    #[test]
    fn a_401_is_problem_json_with_a_bearer_challenge() {
        let resp = unauthorized(Caller::BadKey).into_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let challenge = resp.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with("Bearer") && challenge.contains("invalid_token"), "{challenge}");
    }
}
