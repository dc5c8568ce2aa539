//! `serve`: the app on a real socket (port 0), stopped by its shutdown token; without API keys
//! only on loopback; a body declared too large refused before it is sent.

use goodrobot_api::{AppState, serve};
use goodrobot_bootstrap::Infra;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn the_server_answers_on_its_listener_and_stops_when_told() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, AppState::from_infra(&Infra::memory()), shutdown.clone()));

    let reply = http_get(addr, "/api/v1/health").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"ok\""), "{reply}");

    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

#[tokio::test]
async fn without_keys_the_server_refuses_a_non_loopback_listener_and_says_why() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let e = serve(listener, AppState::from_infra(&Infra::memory()), CancellationToken::new()).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("API_KEYS"), "{e}");
}

#[tokio::test]
async fn with_keys_the_server_listens_on_any_address_and_asks_for_a_key() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut state = AppState::from_infra(&Infra::memory());
    state.keys = std::sync::Arc::new(
        goodrobot_api::auth::ApiKeys::parse("admin:admin-key-for-the-serve-test-000000000").unwrap(),
    );
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, state, shutdown.clone()));

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert!(http_get(addr, "/api/v1/users").await.starts_with("HTTP/1.1 401"));
    assert!(http_get(addr, "/api/v1/health").await.starts_with("HTTP/1.1 200"));
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

#[tokio::test]
async fn a_declared_gigabyte_body_is_refused_with_413_before_it_is_sent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(serve(listener, AppState::from_infra(&Infra::memory()), shutdown.clone()));

    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = "POST /api/v1/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
               Content-Length: 1000000000\r\nConnection: close\r\n\r\n{";
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await.unwrap().unwrap();
    let reply = String::from_utf8_lossy(&out);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("payload_too_large"), "{reply}");
    shutdown.cancel();
}
