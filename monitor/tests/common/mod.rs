//! Shared set-up for the monitor's in-process tests: the app over memory adapters, a logged-in
//! session, and helpers that put tasks, events and heartbeats where the monitor reads them.
#![allow(dead_code)]

pub mod browser;
pub mod real;

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, phc},
};
use chrono::Utc;
use goodrobot_bootstrap::Infra;
use goodrobot_domain::task::{StateUpdate, TaskFailure, TaskId, TaskRecord, TaskState};
use goodrobot_monitor::{MonitorConfig, MonitorDeps, MonitorState, app, auth::password::PasswordHash};
use goodrobot_ports::{
    TaskEvent, WorkerInfo,
    services::{TaskOptions, TaskRequest},
};
use poem::{
    EndpointExt,
    http::{HeaderMap, StatusCode, header},
    test::TestClient,
};
use serde_json::{Map, Value, json};
use std::{sync::OnceLock, time::Duration};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "correct horse battery staple";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The admin's hash, with light argon2 parameters so tests stay fast (verification reads the
/// parameters from the hash, as it does for a real one).
pub fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let params = Params::new(256, 1, 1, None).unwrap();
        let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let h: phc::PasswordHash = a.hash_password(PASSWORD.as_bytes()).unwrap();
        h.to_string()
    })
    .clone()
}

/// The configuration tests run with: the test password, queues `default` and `reports`.
pub fn config() -> MonitorConfig {
    MonitorConfig {
        admin_password_hash: Some(PasswordHash::parse(&password_hash()).unwrap()),
        queues: vec![
            goodrobot_domain::task::QueueName::new("default").unwrap(),
            goodrobot_domain::task::QueueName::new("reports").unwrap(),
        ],
        ..MonitorConfig::default()
    }
}

/// An answer: status, headers, body text and (if it is JSON) the body as JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }

    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok().map(str::to_owned)).collect()
    }

    /// The value a `Set-Cookie` gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            c.split(';').next().and_then(|kv| kv.split_once('=')).filter(|(k, _)| *k == name).map(|(_, v)| v.to_owned())
        })
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        &self.json
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.content_type(), PROBLEM_JSON, "{}", self.text);
        assert_eq!(self.json["status"], status, "{}", self.text);
        assert_eq!(self.json["code"], code, "{}", self.text);
        assert_eq!(self.json["type"], format!("urn:goodrobot:problem:{code}"), "{}", self.text);
    }
}

/// A logged-in browser: its session cookie and the CSRF token the pages carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// The monitor under test, over memory adapters.
pub struct TestMonitor {
    pub client: TestClient<poem::endpoint::BoxEndpoint<'static>>,
    pub infra: Infra,
    pub state: MonitorState,
}

/// The value of `name="<field>" value="…"` in a page.
pub fn field_value(html: &str, field: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{field}\""))?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_owned())
}

impl TestMonitor {
    pub fn new() -> Self {
        Self::with_config(config())
    }

    pub fn with_config(config: MonitorConfig) -> Self {
        Self::over(Infra::memory(), config)
    }

    pub fn over(infra: Infra, config: MonitorConfig) -> Self {
        let state = MonitorState::new(MonitorDeps::from_infra(&infra), config);
        let client = TestClient::new(app(state.clone()).map_to_response().boxed());
        Self { client, infra, state }
    }

    async fn reply(resp: poem::test::TestResponse) -> Reply {
        let status = resp.0.status();
        let headers = resp.0.headers().clone();
        let text = resp.0.into_body().into_string().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, json }
    }

    /// GET without a session.
    pub async fn get_anon(&self, path: &str) -> Reply {
        Self::reply(self.client.get(path).send().await).await
    }

    /// GET with the session's cookie.
    pub async fn get(&self, s: &Session, path: &str) -> Reply {
        Self::reply(self.client.get(path).header(header::COOKIE, &s.cookie).send().await).await
    }

    /// POST to the JSON API with the session's cookie and CSRF header.
    pub async fn post(&self, s: &Session, path: &str) -> Reply {
        let req = self.client.post(path).header(header::COOKIE, &s.cookie).header("x-csrf-token", &s.csrf);
        Self::reply(req.send().await).await
    }

    /// POST with the session's cookie and no CSRF token.
    pub async fn post_without_csrf(&self, s: &Session, path: &str) -> Reply {
        Self::reply(self.client.post(path).header(header::COOKIE, &s.cookie).send().await).await
    }

    /// POST a urlencoded form (as a page does) with the session's cookie.
    pub async fn post_form(&self, s: &Session, path: &str, form: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let req = self
            .client
            .post(path)
            .header(header::COOKIE, &s.cookie)
            .content_type("application/x-www-form-urlencoded")
            .body(body.join("&"));
        Self::reply(req.send().await).await
    }

    /// Submits the login form with these credentials (after loading it, as a browser does).
    pub async fn try_login(&self, user: &str, password: &str) -> Reply {
        let page = self.get_anon("/login").await;
        let nonce_cookie = page.cookie("gr_monitor_login").expect("login form sets its nonce cookie");
        let nonce = field_value(&page.text, "login_nonce").expect("login form has its nonce field");
        let body =
            format!("username={}&password={}&login_nonce={nonce}&next=%2F", urlencode(user), urlencode(password));
        let req = self
            .client
            .post("/login")
            .header(header::COOKIE, format!("gr_monitor_login={nonce_cookie}"))
            .content_type("application/x-www-form-urlencoded")
            .body(body);
        Self::reply(req.send().await).await
    }

    /// Logs in as the admin.
    pub async fn login(&self) -> Session {
        let r = self.try_login(USER, PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let token = r.cookie("gr_monitor_session").expect("a session cookie");
        let cookie = format!("gr_monitor_session={token}");
        let s = Session { cookie, csrf: String::new() };
        let me = self.get(&s, "/api/session").await;
        let csrf = me.assert_status(200)["csrf_token"].as_str().unwrap().to_owned();
        Session { csrf, ..s }
    }

    /// Queues a task as a producer does (record + broker + the PENDING event).
    pub async fn submit(&self, name: &str, kwargs: Value, options: TaskOptions) -> TaskId {
        let kwargs: Map<String, Value> = kwargs.as_object().cloned().unwrap_or_default();
        let req = TaskRequest { name: name.into(), args: Vec::new(), kwargs, options };
        self.state.tasks.submit(&req).await.unwrap().task_id
    }

    /// Queues a `diag.noop`.
    pub async fn noop(&self, x: i64) -> TaskId {
        self.submit("diag.noop", json!({"x": x}), TaskOptions::default()).await
    }

    pub async fn record(&self, id: TaskId) -> TaskRecord {
        self.infra.results.get(id).await.unwrap().expect("the task has a record")
    }

    /// Appends the event of `r`'s current state, as the worker does.
    pub async fn announce(&self, r: &TaskRecord, worker: Option<&str>) {
        let runtime_s = if r.state.is_terminal() { r.runtime_secs() } else { None };
        let ev = TaskEvent {
            task_id: r.id,
            name: r.name.clone(),
            queue: r.queue.to_string(),
            state: r.state,
            at: r.updated_at,
            worker: worker.map(str::to_owned).or_else(|| r.worker.clone()),
            runtime_s,
            wait_s: None,
            error_kind: r.error.as_ref().map(|e| e.kind.clone()),
        };
        self.infra.events.append(&[ev]).await.unwrap();
    }

    /// Moves a task's record to `state` as worker `worker` would, and reports it.
    pub async fn set_state(&self, id: TaskId, state: TaskState, worker: &str) -> TaskRecord {
        let mut u = StateUpdate::new(state, Utc::now());
        u.worker = Some(worker.to_owned());
        match state {
            TaskState::Success => u.result = Some(json!({"ok": true})),
            TaskState::Failure | TaskState::Retry => u.error = Some(TaskFailure::new("HandlerError", "it broke")),
            _ => {}
        }
        let r = self.infra.results.update(id, &u).await.unwrap().expect("the task has a record");
        self.announce(&r, Some(worker)).await;
        r
    }

    /// Runs a task to `end` (STARTED, then `end`) on `worker`.
    pub async fn finish(&self, id: TaskId, end: TaskState, worker: &str) -> TaskRecord {
        self.set_state(id, TaskState::Started, worker).await;
        self.set_state(id, end, worker).await
    }

    /// A worker's heartbeat.
    pub async fn heartbeat(&self, id: &str, succeeded: u64, failed: u64) {
        let now = Utc::now();
        let info = WorkerInfo {
            id: id.into(),
            host: "test-host".into(),
            pid: 4242,
            started_at: now - chrono::Duration::seconds(90),
            concurrency: 4,
            queues: vec!["default".into()],
            running: 1,
            succeeded,
            failed,
            retried: 0,
            last_heartbeat: now,
        };
        self.infra.workers.heartbeat(&info, Duration::from_secs(6)).await.unwrap();
    }
}

/// The tasks of [`TestMonitor::run_flow`].
#[derive(Debug, Clone)]
pub struct Flow {
    pub noops: Vec<TaskId>,
    pub failing: TaskId,
}

impl TestMonitor {
    /// Runs 3 `diag.noop` and one `send_notification` to an unknown user (it fails for good)
    /// on a real in-process worker, waits for each to finish, then stops the worker (which
    /// flushes its events and deregisters).
    pub async fn run_flow(&self) -> Flow {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let config = goodrobot_worker::WorkerConfig {
            concurrency: 2,
            queues: vec![goodrobot_domain::task::QueueName::default_queue()],
            ..goodrobot_worker::WorkerConfig::default()
        };
        let deps = goodrobot_worker::WorkerDeps::from_infra(&self.infra);
        let worker = tokio::spawn(goodrobot_worker::Worker::new(config, deps).run(shutdown.clone()));
        let mut noops = Vec::new();
        for i in 0..3 {
            noops.push(self.noop(i).await);
        }
        let failing = self
            .submit("send_notification", json!({"user_id": 999_999, "message": "hi"}), TaskOptions::default())
            .await;
        for id in noops.iter().chain([&failing]) {
            let r = self.infra.results.wait(*id, Duration::from_secs(30)).await.unwrap().unwrap();
            assert!(r.state.is_terminal(), "{id}: {:?}", r.state);
        }
        shutdown.cancel();
        worker.await.unwrap().unwrap();
        Flow { noops, failing }
    }
}

/// Form/query encoding of a value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
