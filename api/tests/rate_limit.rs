//! Rate limiting of `/api/v1`: 429 problem+json with `Retry-After` and `RateLimit-*`.

mod common;

use common::TestApp;
use goodrobot_api::rate_limit::RateLimits;
use serde_json::json;
use std::time::Duration;

fn limited(reads: u32, writes: u32) -> TestApp {
    TestApp::with_state(|s| s.rate_limits = RateLimits { reads, writes, period: Duration::from_secs(60) })
}

#[tokio::test]
async fn writes_beyond_the_limit_get_429_with_retry_after() {
    let app = limited(100, 2);
    for tg in 1..=2 {
        let r = app.post("/api/v1/users", json!({"tg_id": tg, "role": "client", "name": "x"})).await;
        r.assert_status(201);
        assert_eq!(r.headers["ratelimit-limit"], "2");
    }
    let r = app.post("/api/v1/users", json!({"tg_id": 3, "role": "client", "name": "x"})).await;
    r.assert_problem(429, "rate_limited", None);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    assert_eq!(r.headers["ratelimit-remaining"], "0");
}

#[tokio::test]
async fn reads_have_their_own_larger_budget() {
    let app = limited(5, 1);
    app.post("/api/v1/users", json!({"tg_id": 1, "role": "client", "name": "x"})).await.assert_status(201);
    app.post("/api/v1/users", json!({"tg_id": 2, "role": "client", "name": "x"})).await.assert_problem(
        429,
        "rate_limited",
        None,
    );
    for _ in 0..5 {
        app.get("/api/v1/users").await.assert_status(200);
    }
    app.get("/api/v1/users").await.assert_problem(429, "rate_limited", None);
}

#[tokio::test]
async fn probes_are_never_limited() {
    let app = limited(1, 1);
    for _ in 0..5 {
        app.get("/api/v1/health").await.assert_status(200);
    }
}
