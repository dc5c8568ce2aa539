//! Shared set-up for the API tests: the app over memory adapters, driven in-process, with
//! an embedded worker where a test needs tasks to run.
#![allow(dead_code)]

pub mod failing;

use goodrobot_api::{ApiConfig, AppState, app, auth::ApiKeys, embedded::worker_deps};
use goodrobot_bootstrap::Infra;
use goodrobot_domain::task::QueueName;
use goodrobot_memory::RecordingNotifier;
use goodrobot_worker::{Worker, WorkerConfig};
use poem::{
    EndpointExt,
    http::{Method, StatusCode},
    test::TestClient,
};
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The keys of [`TestApp::with_keys`], one per role.
pub const ADMIN_KEY: &str = "admin-test-key-0000000000000000000000000";
pub const BOT_KEY: &str = "bot-test-key-00000000000000000000000000000";
pub const VIEWER_KEY: &str = "viewer-test-key-000000000000000000000000";

/// The three test keys, configured as the API would from `API_KEYS`.
pub fn test_keys() -> ApiKeys {
    ApiKeys::parse(&format!("admin:{ADMIN_KEY},bot:{BOT_KEY},viewer:{VIEWER_KEY}")).unwrap()
}

/// An answer: status, content type and the body as JSON (`Null` if it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
    pub location: Option<String>,
    pub headers: poem::http::HeaderMap,
}

impl Reply {
    /// Asserts a problem+json answer with this status, code and (if given) field.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "{self:#?}");
        assert_eq!(self.content_type, PROBLEM_JSON, "{self:#?}");
        assert_eq!(self.body["status"], status, "{self:#?}");
        assert_eq!(self.body["code"], code, "{self:#?}");
        assert!(self.body["type"].as_str().is_some_and(|t| t.ends_with(code)), "{self:#?}");
        assert!(self.body["title"].is_string() && self.body["detail"].is_string(), "{self:#?}");
        if let Some(f) = field {
            assert_eq!(self.body["field"], f, "{self:#?}");
        }
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{self:#?}");
        &self.body
    }
}

/// The app under test.
pub struct TestApp {
    pub client: TestClient<poem::endpoint::BoxEndpoint<'static>>,
    pub infra: Infra,
    pub state: AppState,
    pub notifier: Arc<RecordingNotifier>,
    shutdown: CancellationToken,
    /// The key the plain helpers (`get`, `post`, `user`, …) send, if any.
    default_key: Option<&'static str>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn infra() -> (Infra, Arc<RecordingNotifier>) {
    let mut infra = Infra::memory();
    let notifier = Arc::new(RecordingNotifier::new());
    infra.notifier = notifier.clone();
    (infra, notifier)
}

fn build(infra: Infra, notifier: Arc<RecordingNotifier>, state: AppState) -> TestApp {
    let shutdown = CancellationToken::new();
    let mut state = state;
    state.shutdown = shutdown.clone();
    let client = TestClient::new(app(state.clone()).map_to_response().boxed());
    let default_key = (!state.keys.is_empty()).then_some(ADMIN_KEY);
    TestApp { client, infra, state, notifier, shutdown, default_key }
}

impl TestApp {
    /// The app with no worker: tasks are queued and stay PENDING.
    pub fn new() -> Self {
        let (infra, notifier) = infra();
        let state = AppState::from_infra(&infra);
        build(infra, notifier, state)
    }

    /// The app over the given adapters (e.g. Redis ones), with no worker.
    pub fn over(infra: Infra) -> Self {
        let notifier = Arc::new(RecordingNotifier::new());
        let state = AppState::from_infra(&infra);
        build(infra, notifier, state)
    }

    /// The app with a state changed by `f` (e.g. an extra health check).
    pub fn with_state(f: impl FnOnce(&mut AppState)) -> Self {
        let (infra, notifier) = infra();
        let mut state = AppState::from_infra(&infra);
        f(&mut state);
        build(infra, notifier, state)
    }

    /// The app configured by `f` (keys, CORS, task policy, …), as `main` configures it.
    pub fn configured(f: impl FnOnce(&mut ApiConfig)) -> Self {
        let (infra, notifier) = infra();
        let mut config = ApiConfig::default();
        f(&mut config);
        let state = AppState::configured(&infra, &config);
        build(infra, notifier, state)
    }

    /// The app with the three test keys configured (the plain helpers send the admin key).
    pub fn with_keys() -> Self {
        Self::with_state(|s| s.keys = Arc::new(test_keys()))
    }

    /// The app with the test keys and a state changed by `f`.
    pub fn with_keys_and(f: impl FnOnce(&mut AppState)) -> Self {
        Self::with_state(|s| {
            s.keys = Arc::new(test_keys());
            f(s);
        })
    }

    /// Requests with this key (`None`: no `Authorization` header).
    pub fn key(&self, key: Option<&'static str>) -> As<'_> {
        As { app: self, headers: key.map(|k| ("authorization", format!("Bearer {k}"))).into_iter().collect() }
    }

    /// Requests with no key at all.
    pub fn anonymous(&self) -> As<'_> {
        self.key(None)
    }

    /// Requests with the given key of `role` (`admin`, `bot`, `viewer`).
    pub fn role(&self, role: &str) -> As<'_> {
        self.key(Some(match role {
            "admin" => ADMIN_KEY,
            "bot" => BOT_KEY,
            "viewer" => VIEWER_KEY,
            other => panic!("no test key of role {other}"),
        }))
    }

    fn plain(&self) -> As<'_> {
        self.key(self.default_key)
    }

    /// The app with an embedded worker running its tasks (stopped when the app is dropped).
    pub fn with_worker() -> Self {
        let app = Self::new();
        let config = WorkerConfig {
            concurrency: 2,
            queues: vec![QueueName::default_queue()],
            lease: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(5),
            worker_id: Some("api-test-worker".into()),
        };
        let worker = Worker::new(config, worker_deps(&app.infra));
        tokio::spawn(worker.run(app.shutdown.clone()));
        app
    }

    /// Cancels the shutdown token: long waits return, the worker (if any) stops.
    pub fn shut_down(&self) {
        self.shutdown.cancel();
    }

    pub async fn reply(resp: poem::test::TestResponse) -> Reply {
        let status = resp.0.status();
        let header = |name: &str| resp.0.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let headers = resp.0.headers().clone();
        let bytes = resp.0.into_body().into_bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, content_type, body, location, headers }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.plain().get(path).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.plain().delete(path).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.plain().post(path, body).await
    }

    pub async fn post_empty(&self, path: &str) -> Reply {
        self.plain().post_empty(path).await
    }

    /// Posts raw bytes with a content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<String>) -> Reply {
        self.plain().post_raw(path, content_type, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.plain().put(path, body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.plain().patch(path, body).await
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, role: &str, tg_id: i64) -> i64 {
        let r =
            self.post("/api/v1/users", json!({"tg_id": tg_id, "role": role, "name": format!("{role} {tg_id}")})).await;
        r.assert_status(201)["id"].as_i64().unwrap()
    }

    /// Posts an order for tomorrow and returns its id.
    pub async fn order(&self, client_id: i64) -> i64 {
        let r = self.post("/api/v1/orders", order_body(client_id)).await;
        r.assert_status(201)["id"].as_i64().unwrap()
    }

    /// Places a bid and returns its id.
    pub async fn bid(&self, order_id: i64, master_id: i64, price: i64) -> i64 {
        let r = self
            .post(&format!("/api/v1/orders/{order_id}/bids"), json!({"master_id": master_id, "price": price}))
            .await;
        r.assert_status(201)["id"].as_i64().unwrap()
    }

    /// Waits (server-side, no polling) up to 10 s for a task to finish; returns its record.
    pub async fn finished_task(&self, task_id: &str) -> Value {
        let r = self.get(&format!("/api/v1/tasks/{task_id}?wait=10")).await;
        r.assert_status(200).clone()
    }
}

/// Requests with chosen headers (a key, `X-Acting-User`, …).
pub struct As<'a> {
    app: &'a TestApp,
    headers: Vec<(&'static str, String)>,
}

impl As<'_> {
    /// Acts for this user (`X-Acting-User`).
    pub fn acting(self, user_id: i64) -> Self {
        self.header("x-acting-user", user_id.to_string())
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Sends a request; `body` as JSON if given.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self.app.client.request(method, path);
        for (name, value) in &self.headers {
            req = req.header(*name, value.as_str());
        }
        if let Some(b) = body {
            req = req.body_json(b);
        }
        TestApp::reply(req.send().await).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(&body)).await
    }

    pub async fn post_empty(&self, path: &str) -> Reply {
        self.send(Method::POST, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(&body)).await
    }

    /// Posts raw bytes with a content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<String>) -> Reply {
        let body: String = body.into();
        let mut req = self.app.client.post(path).content_type(content_type).body(body);
        for (name, value) in &self.headers {
            req = req.header(*name, value.as_str());
        }
        TestApp::reply(req.send().await).await
    }
}

/// A valid order body for tomorrow.
pub fn order_body(client_id: i64) -> Value {
    let when = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    json!({"client_id": client_id, "category": "plumbing", "address": "Main st 1", "description": "leak", "when_at": when})
}
