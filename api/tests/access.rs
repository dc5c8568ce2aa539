//! API keys and roles: 401 without a valid key, 403 for a role an operation does not admit,
//! the probes open, and every operation of the OpenAPI document admitting exactly the roles
//! its security requirements list.

mod common;

use common::{BOT_KEY, TestApp};
use poem::http::{Method, header};
use serde_json::{Value, json};

#[tokio::test]
async fn without_a_key_every_api_route_is_a_401_with_a_bearer_challenge() {
    let app = TestApp::with_keys();
    for path in ["/api/v1/users", "/api/v1/orders/1", "/api/v1/tasks/00000000-0000-0000-0000-000000000000"] {
        let r = app.anonymous().get(path).await;
        r.assert_problem(401, "unauthorized", None);
        let challenge = r.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }
}

#[tokio::test]
async fn without_a_key_a_write_is_a_401_before_its_body_is_looked_at() {
    let app = TestApp::with_keys();
    app.anonymous().post("/api/v1/users", json!({"nonsense": true})).await.assert_problem(401, "unauthorized", None);
}

#[tokio::test]
async fn an_unknown_route_under_the_api_is_a_401_without_a_key() {
    let app = TestApp::with_keys();
    app.anonymous().get("/api/v1/nothing-here").await.assert_problem(401, "unauthorized", None);
}

#[tokio::test]
async fn a_key_that_is_not_configured_is_a_401_invalid_token() {
    let app = TestApp::with_keys();
    let r = app.key(Some("not-a-configured-key-00000000000000000000")).get("/api/v1/users").await;
    r.assert_problem(401, "unauthorized", None);
    assert!(r.headers[header::WWW_AUTHENTICATE].to_str().unwrap().contains("invalid_token"));
}

#[tokio::test]
async fn a_key_in_another_scheme_is_a_401() {
    let app = TestApp::with_keys();
    let r = app.anonymous().header("authorization", format!("Basic {BOT_KEY}")).get("/api/v1/users").await;
    r.assert_problem(401, "unauthorized", None);
}

#[tokio::test]
async fn the_probes_are_open_when_keys_are_configured() {
    let app = TestApp::with_keys();
    app.anonymous().get("/api/v1/health").await.assert_status(200);
    app.anonymous().get("/api/v1/ready").await.assert_status(200);
}

#[tokio::test]
async fn a_path_ending_like_a_probe_is_not_open() {
    let app = TestApp::with_keys();
    app.anonymous().get("/api/v1/users/health").await.assert_problem(401, "unauthorized", None);
}

#[tokio::test]
async fn a_viewer_reads() {
    let app = TestApp::with_keys();
    app.role("viewer").get("/api/v1/users").await.assert_status(200);
}

#[tokio::test]
async fn a_viewer_may_not_write() {
    let app = TestApp::with_keys();
    let r = app.role("viewer").post("/api/v1/users", json!({"tg_id": 1, "role": "client", "name": "Ann"})).await;
    r.assert_problem(403, "forbidden", None);
}

#[tokio::test]
async fn a_bot_may_not_use_the_task_endpoints() {
    let app = TestApp::with_keys();
    app.role("bot").post("/api/v1/tasks", json!({"name": "diag.noop"})).await.assert_problem(403, "forbidden", None);
}

#[tokio::test]
async fn an_admin_uses_the_task_endpoints() {
    let app = TestApp::with_keys();
    app.role("admin").post("/api/v1/tasks", json!({"name": "diag.noop"})).await.assert_status(202);
}

#[tokio::test]
async fn with_no_keys_configured_the_api_is_open() {
    let app = TestApp::new();
    app.anonymous().post("/api/v1/tasks", json!({"name": "diag.noop"})).await.assert_status(202);
}

/// The roles each kind of operation admits: reads all, the task, notification and report
/// writes `admin` only, every other write `admin` and `bot`.
fn expected_schemes(method: &str, path: &str) -> Vec<&'static str> {
    let admin_only = ["/tasks", "/notifications", "/reports"].iter().any(|p| path.starts_with(p));
    match (method, admin_only) {
        ("get", _) => vec!["AdminKey", "BotKey", "ViewerKey"],
        (_, true) => vec!["AdminKey"],
        (_, false) => vec!["AdminKey", "BotKey"],
    }
}

fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

fn schemes_of(op: &Value) -> Vec<String> {
    let mut s: Vec<String> = op["security"]
        .as_array()
        .map(|reqs| reqs.iter().flat_map(|r| r.as_object().unwrap().keys().cloned()).collect())
        .unwrap_or_default();
    s.sort();
    s
}

#[tokio::test]
async fn the_openapi_document_lists_the_roles_of_every_operation() {
    let app = TestApp::new();
    let spec = app.get("/openapi.json").await.body;
    for (method, path, op) in operations(&spec) {
        let schemes = schemes_of(&op);
        if path == "/health" || path == "/ready" {
            assert!(schemes.is_empty(), "{method} {path} must be open: {schemes:?}");
            continue;
        }
        assert_eq!(schemes, expected_schemes(&method, &path), "{method} {path}");
        let description = op["description"].as_str().unwrap_or_default();
        assert!(description.contains("**Roles:**"), "{method} {path} does not say its roles");
    }
    for scheme in ["AdminKey", "BotKey", "ViewerKey"] {
        let s = &spec["components"]["securitySchemes"][scheme];
        assert_eq!((s["type"].as_str(), s["scheme"].as_str()), (Some("http"), Some("bearer")), "{scheme}");
    }
}

/// A concrete path for a path template.
fn concrete(path: &str) -> String {
    format!("/api/v1{path}")
        .replace("{id}", "1")
        .replace("{bid_id}", "1")
        .replace("{task_id}", "00000000-0000-0000-0000-000000000000")
}

#[tokio::test]
async fn every_operation_admits_exactly_the_roles_its_document_lists() {
    let app = TestApp::with_keys();
    let spec = app.get("/openapi.json").await.body;
    for (method, path, op) in operations(&spec) {
        let admitted = schemes_of(&op);
        if admitted.is_empty() {
            continue;
        }
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
        for (role, scheme) in [("admin", "AdminKey"), ("bot", "BotKey"), ("viewer", "ViewerKey")] {
            let r = app.role(role).send(m.clone(), &concrete(&path), body.as_ref()).await;
            if admitted.iter().any(|s| s == scheme) {
                assert!(r.status != 401 && r.body["code"] != "forbidden", "{role} refused on {method} {path}: {r:#?}");
            } else {
                r.assert_problem(403, "forbidden", None);
            }
        }
    }
}
