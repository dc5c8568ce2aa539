//! GoodRobot's HTTP API: poem-openapi endpoints under `/api/v1`, Swagger UI at `/docs`, the
//! OpenAPI document at `/openapi.json`, Prometheus metrics at `/metrics`, and every error as
//! `application/problem+json`.
//!
//! [`app`] builds the endpoint (tests drive it in-process); [`serve`] runs it on a listener
//! the caller bound until a shutdown token is cancelled.
//!
//! Around every request, outermost first: the request id and its span, the request metrics,
//! panic catching, CORS,
//! security headers, the body-size limit; around `/api/v1`: caller identification (API key),
//! rate limiting, then the 401 gate; each operation then checks its roles ([`auth::Auth`]).

pub mod auth;
mod bids;
pub mod body;
pub mod config;
pub mod cors;
pub mod dto;
pub mod embedded;
mod health;
pub mod metrics;
mod notifications;
mod orders;
pub mod params;
pub mod problem;
pub mod rate_limit;
mod reports;
pub mod request_id;
pub mod security_headers;
mod state;
mod tasks;
mod user_state;
mod users;

pub use config::{ApiConfig, ConfigError, ExposedWithoutKeys, check_exposure};
pub use state::AppState;

use poem::{Endpoint, EndpointExt, Response, Route, Server, get, listener::TcpAcceptor, middleware::CatchPanic};
use poem_openapi::{OpenApiService, Tags};
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// The path every resource lives under.
pub const API_PREFIX: &str = "/api/v1";

/// How long in-flight requests may take to finish after a shutdown request.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(35);

#[derive(Tags)]
enum ApiTags {
    /// Clients, masters, partners and admins.
    Users,
    /// What clients ask for.
    Orders,
    /// Masters' offers, and assigning an order to one.
    Bids,
    /// Background tasks: queue, follow, revoke, replay.
    Tasks,
    /// Messages to users, now or later.
    Notifications,
    /// Analytics reports built in the background.
    Reports,
    /// Liveness and readiness.
    Health,
}

/// The OpenAPI service of every resource (its `security` lists, per operation, the key roles
/// it admits).
fn api_service(state: &AppState) -> OpenApiService<impl poem_openapi::OpenApi, ()> {
    let apis = (
        users::UsersApi { state: state.clone() },
        user_state::UserStateApi { state: state.clone() },
        orders::OrdersApi { state: state.clone() },
        bids::BidsApi { state: state.clone() },
        tasks::TasksApi { state: state.clone() },
        notifications::NotificationsApi { state: state.clone() },
        reports::ReportsApi { state: state.clone() },
        health::HealthApi { state: state.clone() },
    );
    OpenApiService::new(apis, "GoodRobot API", env!("CARGO_PKG_VERSION"))
        .description(
            "Orders, bids and background tasks of the GoodRobot marketplace.\n\n\
             Every operation except `/health` and `/ready` needs an API key (`Authorization: Bearer <key>`) \
             of one of the roles its security requirements list: `viewer` (reads), `bot` (reads, and writes \
             for the user named by `X-Acting-User`, on what that user owns) or `admin` (everything). \
             Without a valid key: 401 `unauthorized`; with a key of another role: 403 `forbidden`; acting on \
             what another user owns: 403 `not_owner`.\n\n\
             Outside this document, `GET /metrics` (Prometheus text format) is open like the probes.",
        )
        .server(API_PREFIX)
}

/// The whole HTTP application.
pub fn app(state: AppState) -> impl Endpoint<Output = Response> + 'static {
    let api = api_service(&state);
    let operations = Arc::new(metrics::operation_routes(&api.spec(), API_PREFIX));
    let docs = api.swagger_ui();
    let spec = api.spec_endpoint();
    let guarded = api
        .with(auth::RequireKey)
        .with(rate_limit::RateLimit {
            limiter: state.rate_limiter.clone(),
            limits: state.rate_limits,
            metrics: state.metrics.clone(),
        })
        .with(auth::Authenticate { keys: state.keys.clone() });
    let routes = Route::new()
        .nest(API_PREFIX, guarded)
        .nest("/docs", docs)
        .at("/openapi.json", spec)
        .at("/metrics", get(metrics::Scrape(state.metrics.clone())))
        .catch_all_error(problem::Problem::render_error)
        .with(body::BodyLimit)
        .with(security_headers::SecurityHeaders);
    let cors = state.cors.clone();
    routes
        .with_if(cors.is_enabled(), cors)
        .with(CatchPanic::new().with_handler(problem::Problem::render_panic))
        .with(metrics::HttpMetrics { metrics: state.metrics.clone(), routes: operations })
        .with(request_id::RequestId)
}

/// Serves [`app`] on `listener` until `shutdown` is cancelled, then stops accepting and lets
/// in-flight requests finish (up to [`DRAIN_TIMEOUT`]; long `?wait=` polls return at once).
///
/// # Errors
/// The listener cannot be used; or no API key is configured and the listener is not on a
/// loopback address (`PermissionDenied`, see [`check_exposure`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    mut state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    check_exposure(listener.local_addr()?, &state.keys)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e))?;
    if state.keys.is_empty() {
        tracing::warn!("no API keys configured: the API is OPEN to anyone who can reach this loopback address");
    }
    state.shutdown = shutdown.clone();
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app(state), shutdown.cancelled_owned(), Some(DRAIN_TIMEOUT))
        .await
}
