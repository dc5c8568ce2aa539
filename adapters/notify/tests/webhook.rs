//! The webhook notifier against a real HTTP endpoint on 127.0.0.1:0 that records every request
//! and answers as the test tells it.

use goodrobot_domain::{UserId, task::NotificationType, task::TaskId};
use goodrobot_notify::{WebhookConfig, WebhookNotifier};
use goodrobot_ports::{Notification, Notifier, NotifyError};
use hmac::{Hmac, KeyInit, Mac};
use poem::{Request, Response, Server, endpoint::make, http::StatusCode, listener::TcpAcceptor};
use serde_json::{Value, json};
use sha2::Sha256;
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

/// One request as the endpoint saw it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: poem::http::HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How the endpoint answers.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Records the request, then never answers.
    Never,
}

/// The endpoint: its base URL and what it received; stopped when dropped.
struct Endpoint {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Endpoint {
    async fn start(answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let app = make(move |mut req: Request| {
            let log = log.clone();
            async move {
                let body = req.take_body().into_vec().await.unwrap_or_default();
                log.lock().unwrap().push(Received {
                    method: req.method().to_string(),
                    path: req.uri().path().to_owned(),
                    headers: req.headers().clone(),
                    body,
                });
                match answer {
                    Answer::Status(code) => Response::builder().status(StatusCode::from_u16(code).unwrap()).finish(),
                    Answer::Never => std::future::pending().await,
                }
            }
        });
        let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Self { base, received, server }
    }

    fn url(&self) -> String {
        format!("{}/hooks/notify", self.base)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn notification() -> Notification {
    Notification {
        user_id: UserId(7),
        tg_id: Some(123_456_789),
        message: "Вам назначена новая заявка #42".into(),
        notification_type: NotificationType::Warning,
        task_id: TaskId::generate(),
    }
}

fn notifier(url: String) -> WebhookNotifier {
    WebhookNotifier::new(WebhookConfig::new(url)).unwrap()
}

fn error_text(e: &NotifyError) -> String {
    match e {
        NotifyError::Transient(t) | NotifyError::Permanent(t) => t.clone(),
    }
}

#[tokio::test]
async fn a_2xx_answer_delivers_on_the_webhook_channel() {
    let endpoint = Endpoint::start(Answer::Status(204)).await;
    let receipt = notifier(endpoint.url()).notify(&notification()).await.unwrap();
    assert_eq!(receipt.channel, "webhook");
    assert_eq!(endpoint.received().len(), 1);
}

#[tokio::test]
async fn the_notification_is_posted_as_json_with_the_task_id_as_idempotency_key() {
    let endpoint = Endpoint::start(Answer::Status(200)).await;
    let n = notification();
    notifier(endpoint.url()).notify(&n).await.unwrap();
    let [req] = endpoint.received().try_into().unwrap();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/hooks/notify"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("idempotency-key"), Some(n.task_id.to_string().as_str()));
    assert_eq!(req.header("x-signature"), None, "no secret, no signature");
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({
            "user_id": 7,
            "tg_id": 123_456_789,
            "message": "Вам назначена новая заявка #42",
            "notification_type": "warning",
            "task_id": n.task_id.to_string(),
        })
    );
}

#[tokio::test]
async fn with_a_secret_the_body_is_signed_with_hmac_sha256() {
    let endpoint = Endpoint::start(Answer::Status(200)).await;
    let cfg = WebhookConfig { secret: Some("s3cret-key".into()), ..WebhookConfig::new(endpoint.url()) };
    WebhookNotifier::new(cfg).unwrap().notify(&notification()).await.unwrap();
    let [req] = endpoint.received().try_into().unwrap();
    let hex = req.header("x-signature").and_then(|s| s.strip_prefix("sha256=")).expect("a sha256= signature");
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret-key").unwrap();
    mac.update(&req.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, expected);
}

#[tokio::test]
async fn a_500_answer_is_transient() {
    let endpoint = Endpoint::start(Answer::Status(500)).await;
    let e = notifier(endpoint.url()).notify(&notification()).await.unwrap_err();
    assert!(matches!(e, NotifyError::Transient(_)), "{e:?}");
    assert!(error_text(&e).contains("500"), "{e:?}");
}

#[tokio::test]
async fn a_429_answer_is_transient() {
    let endpoint = Endpoint::start(Answer::Status(429)).await;
    let e = notifier(endpoint.url()).notify(&notification()).await.unwrap_err();
    assert!(matches!(e, NotifyError::Transient(_)), "{e:?}");
}

#[tokio::test]
async fn a_400_answer_is_permanent() {
    let endpoint = Endpoint::start(Answer::Status(400)).await;
    let e = notifier(endpoint.url()).notify(&notification()).await.unwrap_err();
    assert!(matches!(e, NotifyError::Permanent(_)), "{e:?}");
    assert!(error_text(&e).contains("400"), "{e:?}");
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_is_permanent() {
    let endpoint = Endpoint::start(Answer::Status(302)).await;
    let e = notifier(endpoint.url()).notify(&notification()).await.unwrap_err();
    assert!(matches!(e, NotifyError::Permanent(_)), "{e:?}");
    assert_eq!(endpoint.received().len(), 1);
}

#[tokio::test]
async fn an_endpoint_that_does_not_answer_within_the_timeout_is_transient() {
    let endpoint = Endpoint::start(Answer::Never).await;
    let cfg = WebhookConfig { timeout: Duration::from_millis(200), ..WebhookConfig::new(endpoint.url()) };
    let started = tokio::time::Instant::now();
    let e = WebhookNotifier::new(cfg).unwrap().notify(&notification()).await.unwrap_err();
    assert!(matches!(e, NotifyError::Transient(_)), "{e:?}");
    assert!(error_text(&e).contains("timed out"), "{e:?}");
    assert!(started.elapsed() >= Duration::from_millis(200), "gave up after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = notifier(format!("http://127.0.0.1:{port}/hook")).notify(&notification()).await.unwrap_err();
    assert!(matches!(e, NotifyError::Transient(_)), "{e:?}");
    assert!(error_text(&e).contains("could not connect"), "{e:?}");
}

#[tokio::test]
async fn credentials_in_the_url_are_sent_as_basic_auth_and_never_appear_in_errors() {
    let endpoint = Endpoint::start(Answer::Status(503)).await;
    let url = endpoint.url().replacen("http://", "http://robot:hunter2@", 1);
    let cfg = WebhookConfig { secret: Some("s3cret-key".into()), ..WebhookConfig::new(url) };
    let e = WebhookNotifier::new(cfg).unwrap().notify(&notification()).await.unwrap_err();
    let [req] = endpoint.received().try_into().unwrap();
    assert_eq!(req.header("authorization"), Some("Basic cm9ib3Q6aHVudGVyMg=="), "robot:hunter2");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("hunter2") && !shown.contains("s3cret-key"), "{shown}");
}

#[tokio::test]
async fn a_failed_connection_names_neither_the_credentials_nor_the_secret() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = WebhookConfig {
        secret: Some("s3cret-key".into()),
        ..WebhookConfig::new(format!("http://robot:hunter2@127.0.0.1:{port}/hook"))
    };
    let e = WebhookNotifier::new(cfg).unwrap().notify(&notification()).await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("hunter2") && !shown.contains("s3cret-key") && !shown.contains("robot"), "{shown}");
}
