//! `GET /ready` of the monitor: open, 200 while every dependency answers, 503 naming what is
//! wrong where the dependency allows it (a Redis Cluster's failing node), the cause logged.

mod common;

use async_trait::async_trait;
use common::{TestMonitor, config};
use goodrobot_bootstrap::Infra;
use goodrobot_ports::HealthCheck;
use std::sync::Arc;

/// A Redis Cluster with a failing node, as `RedisPool::health` reports it.
struct ClusterWithAFailingNode;

#[async_trait]
impl HealthCheck for ClusterWithAFailingNode {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), String> {
        Err("cluster: node 127.0.0.1:7001 is failing or disconnected".to_owned())
    }

    fn public_error(&self, error: &str) -> Option<String> {
        Some(error.to_owned())
    }
}

/// A dependency whose error must not be shown.
struct SecretDown;

#[async_trait]
impl HealthCheck for SecretDown {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn check(&self) -> Result<(), String> {
        Err("password authentication failed for user \"hunter2\"".to_owned())
    }
}

#[tokio::test]
async fn ready_is_open_and_ok_while_every_dependency_answers() {
    let m = TestMonitor::new();
    let body = m.get_anon("/ready").await.assert_status(200).clone();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["dependencies"][0]["ok"], true, "{body}");
}

#[tokio::test]
async fn ready_is_503_and_names_the_failing_cluster_node_but_not_secrets() {
    let mut infra = Infra::memory();
    infra.health = vec![Arc::new(ClusterWithAFailingNode), Arc::new(SecretDown)];
    let m = TestMonitor::over(infra, config());
    let r = m.get_anon("/ready").await;
    let body = r.assert_status(503).clone();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["dependencies"][0]["error"], "cluster: node 127.0.0.1:7001 is failing or disconnected");
    assert_eq!(body["dependencies"][1]["error"], "does not answer");
    assert!(!r.text.contains("hunter2"), "{}", r.text);
}
