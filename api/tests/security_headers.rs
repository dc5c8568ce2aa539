//! Security headers: every answer forbids MIME sniffing and framing; API answers are not
//! cached and load nothing; the Swagger UI page may run its own scripts only.

mod common;

use common::TestApp;
use poem::http::header;

#[tokio::test]
async fn an_api_answer_forbids_sniffing_framing_and_caching() {
    let app = TestApp::new();
    let r = app.get("/api/v1/users").await;
    assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[tokio::test]
async fn an_error_answer_has_the_same_headers() {
    let app = TestApp::new();
    let r = app.get("/api/v1/orders/999").await;
    assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn the_docs_page_may_run_its_own_scripts_and_is_never_framed() {
    let app = TestApp::new();
    let resp = app.client.get("/docs").send().await;
    let headers = resp.0.headers().clone();
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}
