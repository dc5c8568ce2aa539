//! CORS: browsers may call the API from the configured origins only. With none configured
//! (the default) no CORS header is ever sent, so browsers on other origins cannot read
//! answers. Keys travel in `Authorization`, never in cookies, so credentials are not allowed.

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderValue, Method, StatusCode, header},
};
use std::{collections::HashSet, sync::Arc};

use crate::problem::Problem;

/// The methods a browser may use.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// The request headers a browser may send.
const HEADERS: &str = "authorization, content-type, x-acting-user, x-request-id";
/// The response headers a browser's script may read.
const EXPOSED: &str = "x-request-id, location, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset";
/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE: &str = "600";

/// An origin in `CORS_ALLOWED_ORIGINS` that is not `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CORS_ALLOWED_ORIGINS: {origin:?} is not an origin (`https://host[:port]`, no path, no wildcard)")]
pub struct BadOrigin {
    pub origin: String,
}

/// The allowed origins (empty: CORS is off).
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    origins: Arc<HashSet<String>>,
}

fn origin_ok(o: &str) -> bool {
    let Some((scheme, rest)) = o.split_once("://") else {
        return false;
    };
    let host = rest.rsplit_once(':').map_or(rest, |(h, port)| if port.parse::<u16>().is_ok() { h } else { "" });
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'[' | b']' | b':'))
}

impl CorsPolicy {
    /// # Errors
    /// An entry that is not an origin (`*` included: list them).
    pub fn new(origins: &[String]) -> Result<Self, BadOrigin> {
        let mut set = HashSet::new();
        for o in origins {
            let normal = o.trim().trim_end_matches('/').to_ascii_lowercase();
            if !origin_ok(&normal) {
                return Err(BadOrigin { origin: o.clone() });
            }
            set.insert(normal);
        }
        Ok(Self { origins: Arc::new(set) })
    }

    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        origin.to_str().is_ok_and(|o| self.origins.contains(o))
    }
}

impl<E: Endpoint> Middleware<E> for CorsPolicy {
    type Output = CorsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        CorsEndpoint { inner: ep, policy: self.clone() }
    }
}

#[derive(Debug)]
pub struct CorsEndpoint<E> {
    inner: E,
    policy: CorsPolicy,
}

impl<E: Endpoint> Endpoint for CorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let origin = req.headers().get(header::ORIGIN).cloned();
        let preflight =
            req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let allowed = origin.as_ref().filter(|o| self.policy.allows(o));
        let mut resp = match (allowed, preflight) {
            (Some(o), true) => Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone())
                .header(header::ACCESS_CONTROL_ALLOW_METHODS, METHODS)
                .header(header::ACCESS_CONTROL_ALLOW_HEADERS, HEADERS)
                .header(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE)
                .finish(),
            (None, true) if origin.is_some() => {
                Problem::new(StatusCode::FORBIDDEN, "origin_not_allowed", "this origin may not call the API")
                    .into_response()
            }
            (Some(o), false) => {
                let mut resp = self.inner.get_response(req).await;
                let h = resp.headers_mut();
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
                h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED));
                resp
            }
            _ => self.inner.get_response(req).await,
        };
        resp.headers_mut().append(header::VARY, HeaderValue::from_static("origin"));
        Ok(resp.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(o: &[&str]) -> Result<CorsPolicy, BadOrigin> {
        CorsPolicy::new(&o.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert!(policy(&["https://admin.example.com", "http://localhost:3000", "https://x.example/"]).is_ok());
        for bad in ["*", "admin.example.com", "https://a.example/path", "ftp://a.example", "https://", "https://a:b"] {
            assert!(policy(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_match_case_insensitively_without_a_trailing_slash() {
        let p = policy(&["HTTPS://Admin.Example.com/"]).unwrap();
        assert!(p.allows(&HeaderValue::from_static("https://admin.example.com")));
        assert!(!p.allows(&HeaderValue::from_static("https://evil.example.com")));
    }
}
