//! `/health` and `/ready`.

mod common;

use async_trait::async_trait;
use common::TestApp;
use goodrobot_ports::HealthCheck;
use std::sync::Arc;

#[derive(Debug)]
struct Down;

#[async_trait]
impl HealthCheck for Down {
    fn name(&self) -> &'static str {
        "redis"
    }
    async fn check(&self) -> Result<(), String> {
        Err("connection refused".into())
    }
}

#[tokio::test]
async fn health_is_ok() {
    let app = TestApp::new();
    assert_eq!(app.get("/api/v1/health").await.assert_status(200)["status"], "ok");
}

#[tokio::test]
async fn ready_is_200_listing_each_dependency_when_all_answer() {
    let app = TestApp::new();
    let r = app.get("/api/v1/ready").await;
    let body = r.assert_status(200);
    assert_eq!((body["status"].as_str(), body["embedded"].as_bool()), (Some("ok"), Some(true)));
    let deps = body["dependencies"].as_array().unwrap();
    assert!(!deps.is_empty());
    assert!(deps.iter().all(|d| d["ok"] == true && d["name"].is_string()));
}

#[tokio::test]
async fn ready_is_503_naming_the_dependency_that_does_not_answer() {
    let app = TestApp::with_state(|s| s.health.push(Arc::new(Down)));
    let r = app.get("/api/v1/ready").await;
    let body = r.assert_status(503);
    assert_eq!(body["status"], "unavailable");
    let redis = body["dependencies"].as_array().unwrap().iter().find(|d| d["name"] == "redis").unwrap().clone();
    assert_eq!((redis["ok"].as_bool(), redis["error"].as_str()), (Some(false), Some("does not answer")));
}
