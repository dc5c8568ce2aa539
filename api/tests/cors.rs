//! CORS: none by default (no CORS header, whatever the origin); with an allow-list, the
//! listed origins get preflight answers and readable responses, others get nothing.

mod common;

use common::TestApp;
use goodrobot_api::cors::CorsPolicy;
use poem::http::{Method, header};

const ADMIN_UI: &str = "https://admin.goodrobot.example";

fn with_origins(origins: &[&str]) -> TestApp {
    let origins: Vec<String> = origins.iter().map(|s| (*s).to_owned()).collect();
    TestApp::configured(|c| c.cors = CorsPolicy::new(&origins).unwrap())
}

async fn preflight(app: &TestApp, origin: &str) -> common::Reply {
    let resp = app
        .client
        .request(Method::OPTIONS, "/api/v1/orders")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization, content-type, x-acting-user")
        .send()
        .await;
    TestApp::reply(resp).await
}

#[tokio::test]
async fn by_default_no_cors_header_is_sent() {
    let app = TestApp::new();
    let r = app.anonymous().header("origin", ADMIN_UI).get("/api/v1/users").await;
    r.assert_status(200);
    assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "{r:#?}");
}

#[tokio::test]
async fn by_default_a_preflight_gets_no_cors_header() {
    let app = TestApp::new();
    let r = preflight(&app, ADMIN_UI).await;
    assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "{r:#?}");
}

#[tokio::test]
async fn an_allowed_origin_gets_a_preflight_answer_naming_methods_and_headers() {
    let app = with_origins(&[ADMIN_UI]);
    let r = preflight(&app, ADMIN_UI).await;
    assert_eq!(r.status.as_u16(), 204, "{r:#?}");
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], ADMIN_UI);
    let allowed = r.headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap();
    assert!(allowed.contains("authorization") && allowed.contains("x-acting-user"), "{allowed}");
    assert!(r.headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("POST"));
    assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
}

#[tokio::test]
async fn an_allowed_origin_may_read_the_answer_and_its_request_id() {
    let app = with_origins(&[ADMIN_UI]);
    let r = app.anonymous().header("origin", ADMIN_UI).get("/api/v1/users").await;
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], ADMIN_UI);
    assert!(r.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap().contains("x-request-id"));
    assert!(r.headers.get_all(header::VARY).iter().any(|v| v == "origin"));
}

#[tokio::test]
async fn another_origin_gets_no_cors_header() {
    let app = with_origins(&[ADMIN_UI]);
    let r = app.anonymous().header("origin", "https://evil.example").get("/api/v1/users").await;
    assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "{r:#?}");
}

#[tokio::test]
async fn another_origins_preflight_is_a_403_problem() {
    let app = with_origins(&[ADMIN_UI]);
    let r = preflight(&app, "https://evil.example").await;
    r.assert_problem(403, "origin_not_allowed", None);
    assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}
