//! The OpenAPI document, the Swagger UI, and unknown routes.

mod common;

use common::TestApp;

#[tokio::test]
async fn the_openapi_document_lists_every_path() {
    let app = TestApp::new();
    let r = app.get("/openapi.json").await;
    let spec = r.assert_status(200);
    let paths = spec["paths"].as_object().unwrap();
    for p in [
        "/users",
        "/users/{id}",
        "/orders",
        "/orders/{id}",
        "/orders/{id}/complete",
        "/orders/{id}/cancel",
        "/orders/{id}/bids",
        "/bids/{bid_id}/assign",
        "/notifications",
        "/reports",
        "/tasks",
        "/tasks/{task_id}",
        "/tasks/{task_id}/replay",
        "/health",
        "/ready",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys().collect::<Vec<_>>());
    }
    assert_eq!(spec["servers"][0]["url"], "/api/v1");
}

#[tokio::test]
async fn the_openapi_document_describes_errors_as_problem_json() {
    let app = TestApp::new();
    let spec = app.get("/openapi.json").await.body;
    let responses = &spec["paths"]["/users"]["post"]["responses"];
    assert!(responses["422"]["content"]["application/problem+json"].is_object(), "{responses:#}");
    assert!(spec["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn swagger_ui_is_served_at_docs() {
    let app = TestApp::new();
    let resp = app.client.get("/docs").send().await;
    resp.assert_status_is_ok();
    let html = resp.0.into_body().into_string().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = TestApp::new();
    app.get("/api/v1/nothing-here").await.assert_problem(404, "route_not_found", None);
}

#[tokio::test]
async fn a_method_that_a_route_does_not_take_is_a_405_problem() {
    let app = TestApp::new();
    app.delete("/api/v1/users").await.assert_problem(405, "method_not_allowed", None);
}
