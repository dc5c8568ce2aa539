//! Rate limiting of `/api/v1`: per client (its API key's id when it has a valid one, else the
//! address, so guessing keys is limited too),
//! writes stricter than reads, decided atomically by the rate-limiter port (Redis GCRA in
//! production). A refusal is 429 problem+json with `Retry-After` and `RateLimit-*` headers,
//! counted in `goodrobot_rate_limit_refusals_total`.

use goodrobot_ports::{RateDecision, RateLimiter};
use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderValue, Method, StatusCode, header},
    web::RemoteAddr,
};
use std::{sync::Arc, time::Duration};

use crate::{
    auth::{Caller, is_probe},
    metrics::ApiMetrics,
    problem::Problem,
};

/// Requests per period allowed to one client, by kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// GET/HEAD/OPTIONS per period (0 = unlimited).
    pub reads: u32,
    /// Every other method per period (0 = unlimited).
    pub writes: u32,
    pub period: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { reads: 600, writes: 120, period: Duration::from_secs(60) }
    }
}

/// The middleware (see the module doc).
#[derive(Clone)]
pub struct RateLimit {
    pub limiter: Arc<dyn RateLimiter>,
    pub limits: RateLimits,
    /// Where refusals are counted.
    pub metrics: ApiMetrics,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RateLimitEndpoint { inner: ep, cfg: self.clone() }
    }
}

#[derive(Debug)]
pub struct RateLimitEndpoint<E> {
    inner: E,
    cfg: RateLimit,
}

/// Who is asking: the id of a valid key (never the key), else the peer address.
fn client_key(req: &Request) -> String {
    if let Some(Caller::Key { id, .. }) = req.extensions().get::<Caller>() {
        return format!("key:{id}");
    }
    match req.remote_addr() {
        RemoteAddr(poem::Addr::SocketAddr(a)) => format!("ip:{}", a.ip()),
        _ => "ip:unknown".to_owned(),
    }
}

fn set_headers(resp: &mut Response, d: &RateDecision) {
    let h = resp.headers_mut();
    let reset = d.reset_after.as_secs_f64().ceil() as u64;
    for (name, value) in [
        ("ratelimit-limit", d.limit.to_string()),
        ("ratelimit-remaining", d.remaining.to_string()),
        ("ratelimit-reset", reset.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        // Probes are never limited.
        if is_probe(&req) {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let (kind, limit) = if write { ("w", self.cfg.limits.writes) } else { ("r", self.cfg.limits.reads) };
        if limit == 0 {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let key = format!("rl:{kind}:{}", client_key(&req));
        let decision = match self.cfg.limiter.check(&key, limit, self.cfg.limits.period).await {
            Ok(d) => d,
            Err(e) => {
                // The configured fail policy said "refuse": the client did nothing wrong.
                tracing::warn!(error = %e, "rate limiter unavailable; refusing");
                self.cfg.metrics.refused(write, true);
                return Ok(Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a dependency is unavailable; try again shortly",
                )
                .into_response());
            }
        };
        if !decision.allowed {
            self.cfg.metrics.refused(write, false);
            let retry = decision.reset_after.as_secs_f64().ceil().max(1.0) as u64;
            let mut resp = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; try again in {retry} s"),
            )
            .into_response();
            set_headers(&mut resp, &decision);
            if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(resp);
        }
        let mut resp = self.inner.call(req).await?.into_response();
        set_headers(&mut resp, &decision);
        Ok(resp)
    }
}
