//! The worker's `/metrics` listener (`WORKER_METRICS_ADDR`): a tiny poem server that answers
//! `GET /metrics` with [`WorkerMetrics::render`] and stops with the worker's shutdown token.

use poem::{Endpoint, Request, Response, Route, Server, get, http::header, listener::TcpAcceptor};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::metrics::{CONTENT_TYPE, WorkerMetrics};

/// How long a scrape in flight may finish after shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /metrics`.
#[derive(Debug, Clone)]
struct Scrape(WorkerMetrics);

impl Endpoint for Scrape {
    type Output = Response;

    async fn call(&self, _req: Request) -> poem::Result<Response> {
        Ok(Response::builder().header(header::CONTENT_TYPE, CONTENT_TYPE).body(self.0.render().await))
    }
}

/// The endpoint [`serve_metrics`] serves (tests drive it in-process).
pub fn metrics_endpoint(metrics: WorkerMetrics) -> impl Endpoint + 'static {
    Route::new().at("/metrics", get(Scrape(metrics)))
}

/// Serves `GET /metrics` on `listener` until `shutdown` is cancelled.
///
/// # Errors
/// The listener cannot be used.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: WorkerMetrics,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(metrics_endpoint(metrics), shutdown.cancelled_owned(), Some(DRAIN_TIMEOUT))
        .await
}
