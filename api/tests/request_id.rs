//! `X-Request-Id`: generated when absent, the client's kept when short and printable, echoed
//! on every response (errors included), and carried by every log line of the request.

mod common;

use common::{
    TestApp,
    failing::{Failing, Failure},
};
use goodrobot_bootstrap::Infra;
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn a_request_without_an_id_gets_a_generated_uuid() {
    let app = TestApp::new();
    let r = app.get("/api/v1/health").await;
    let id = r.headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn a_short_printable_client_id_is_echoed() {
    let app = TestApp::new();
    let r = app.anonymous().header("x-request-id", "bot-7f3a.42").get("/api/v1/users").await;
    assert_eq!(r.headers["x-request-id"], "bot-7f3a.42");
}

#[tokio::test]
async fn a_client_id_that_is_too_long_is_replaced() {
    let app = TestApp::new();
    let long = "a".repeat(goodrobot_api::request_id::MAX_REQUEST_ID_LEN + 1);
    let r = app.anonymous().header("x-request-id", long.clone()).get("/api/v1/users").await;
    let id = r.headers["x-request-id"].to_str().unwrap();
    assert!(id != long && uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn a_client_id_with_characters_a_log_could_be_confused_by_is_replaced() {
    let app = TestApp::new();
    let r = app.anonymous().header("x-request-id", "a b\"c=d").get("/api/v1/users").await;
    assert!(uuid::Uuid::parse_str(r.headers["x-request-id"].to_str().unwrap()).is_ok());
}

#[tokio::test]
async fn error_answers_carry_the_id_too() {
    let app = TestApp::with_keys();
    for r in [
        app.anonymous().get("/api/v1/users").await,
        app.get("/api/v1/orders/999").await,
        app.get("/no/such/route").await,
        app.post_raw("/api/v1/users", "application/json", "{").await,
    ] {
        assert!(r.status.is_client_error(), "{r:#?}");
        assert!(r.headers.contains_key("x-request-id"), "{r:#?}");
    }
}

/// A writer that keeps what the log layer writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_id() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    // With a single scoped subscriber (and no global one), tracing caches the interest of a
    // call site another test's thread meets first from that thread's (empty) default: the
    // request's own log lines could stay disabled. A second live dispatcher makes every
    // thread ask all of them, this subscriber included.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut infra = Infra::memory();
    infra.orders = Arc::new(Failing(Failure::Internal));
    let app = TestApp::over(infra);
    app.anonymous().header("x-request-id", "trace-me-42").get("/api/v1/orders/7").await.assert_status(500);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.iter().any(|l| l.contains("internal error") && l.contains("users_pkey")),
        "the cause is logged:\n{text}"
    );
    assert!(lines.iter().any(|l| l.contains("request finished")), "{text}");
    for line in &lines {
        assert!(line.contains("request_id=trace-me-42"), "a log line without the request id: {line}");
    }
}
