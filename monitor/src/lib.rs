//! The task monitor (Flower's job): a web UI, a JSON API and Prometheus metrics over the
//! broker, the result backend, the worker registry and the task event log. Everything it
//! shows is read from those stores, so it survives its own restarts and shows the truth.
//!
//! [`app`] builds the endpoint (tests drive it in-process); [`serve`] runs it on a listener
//! the caller bound until a shutdown token is cancelled.

pub mod actions;
pub mod api;
pub mod assets;
pub mod auth;
pub mod body_limit;
pub mod config;
pub mod metrics;
pub mod model;
pub mod pages;
pub mod problem;
pub mod read;
pub mod security_headers;
pub mod state;

pub use config::{ConfigError, MonitorConfig};
pub use state::{MonitorDeps, MonitorState};

use poem::{
    Endpoint, EndpointExt, IntoResponse, Response, Route, Server, get, handler,
    listener::TcpAcceptor,
    middleware::{CatchPanic, Tracing},
    post,
    web::{Data, Json},
};
use poem_openapi::OpenApiService;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::{Guard, GuardKind},
    problem::Problem,
};

/// How long in-flight requests may take to finish after a shutdown request.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request body accepted (forms and actions are tiny).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// `GET /health`: the process answers (open, for load balancers and compose).
#[handler]
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// How long one dependency may take to answer `/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /ready`: every dependency answers (open, like health): 200 `{"status":"ok",…}` or
/// 503 `{"status":"unavailable","dependencies":[{"name","ok","error"}]}`; on a Redis
/// Cluster the error names the node that is wrong.
#[handler]
async fn ready(state: Data<&MonitorState>) -> Response {
    let reports = goodrobot_ports::check_all(&state.deps.health, READY_TIMEOUT).await;
    let ok = reports.iter().all(|r| r.error.is_none());
    let dependencies: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| match &r.error {
            None => serde_json::json!({ "name": r.name, "ok": true }),
            Some(e) => serde_json::json!({ "name": r.name, "ok": false, "error": e }),
        })
        .collect();
    let body = serde_json::json!({ "status": if ok { "ok" } else { "unavailable" }, "dependencies": dependencies });
    let status = if ok { poem::http::StatusCode::OK } else { poem::http::StatusCode::SERVICE_UNAVAILABLE };
    Json(body).with_status(status).into_response()
}

/// `GET /metrics`: the Prometheus text format (open, like health; bind the monitor to
/// loopback or filter it at the proxy to keep it private).
#[handler]
async fn metrics_endpoint(state: Data<&MonitorState>) -> Response {
    let scrape = async {
        let (workers, queues, recent) = tokio::join!(
            read::overview::workers(&state),
            read::overview::queues(&state),
            read::overview::recent_events(&state)
        );
        let (workers, queues, (events, _)) = (workers?, queues?, recent?);
        Ok::<_, Problem>(metrics::render(&metrics::Snapshot {
            now: state.deps.clock.now(),
            queues: &queues,
            workers: &workers,
            events: &events,
        }))
    };
    match scrape.await {
        Ok(text) => Response::builder().content_type(metrics::CONTENT_TYPE).body(text),
        Err(p) => p.into_response(),
    }
}

/// The JSON API's OpenAPI service.
fn api_service() -> OpenApiService<api::MonitorApi, ()> {
    OpenApiService::new(api::MonitorApi, "GoodRobot monitor API", env!("CARGO_PKG_VERSION"))
        .description(
            "Workers, queues and tasks of GoodRobot's task runtime, and the operator's actions. Log in at /login \
             first: every endpoint needs the session cookie `gr_monitor_session` (HttpOnly), and every action \
             (POST) the session's CSRF token in the `X-CSRF-Token` header (GET /api/session returns it). Errors \
             are application/problem+json.",
        )
        .server("/api")
}

/// The whole monitor.
pub fn app(state: MonitorState) -> impl Endpoint<Output = Response> + 'static {
    let api = api_service();
    let spec = api.spec_endpoint();
    let page = |s: &MonitorState| Guard::new(s.clone(), GuardKind::Page);
    Route::new()
        .at("/health", get(health))
        .at("/ready", get(ready))
        .at("/metrics", get(metrics_endpoint))
        .at("/openapi.json", spec)
        .at("/static/monitor.js", get(assets::script))
        .at("/static/monitor.css", get(assets::stylesheet))
        .at("/login", get(pages::login::login_page).post(pages::login::login_submit))
        .at("/logout", post(pages::login::logout).with(page(&state)))
        .at("/", get(pages::overview::overview_page).with(page(&state)))
        .at("/tasks", get(pages::tasks::tasks_page).with(page(&state)))
        .at("/tasks/:id", get(pages::task::task_page).with(page(&state)))
        .at("/tasks/:id/:action", post(pages::task::task_action).with(page(&state)))
        .at(
            "/queues/:queue/purge",
            get(pages::queues::purge_confirm).post(pages::queues::purge_submit).with(page(&state)),
        )
        .nest("/api", api.with(Guard::new(state.clone(), GuardKind::Api)))
        .catch_all_error(Problem::render_error)
        .with(body_limit::BodyLimit(MAX_BODY_BYTES))
        .with(security_headers::SecurityHeaders)
        .data(state)
        .with(CatchPanic::new().with_handler(Problem::render_panic))
        .with(Tracing)
}

/// Serves [`app`] on `listener` until `shutdown` is cancelled, then lets in-flight requests
/// finish (up to [`DRAIN_TIMEOUT`]).
///
/// # Errors
/// The listener cannot be used.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: MonitorState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app(state), shutdown.cancelled_owned(), Some(DRAIN_TIMEOUT))
        .await
}
