//! `goodrobot-api`: serves the HTTP API; with tasks in memory (no `REDIS_URL`) it also runs
//! the worker in the same process.

use anyhow::Context;
use goodrobot_api::{
    ApiConfig, AppState, check_exposure,
    embedded::{worker_config, worker_deps},
    serve,
};
use goodrobot_bootstrap::{Backend, Infra, Settings, init_telemetry};
use goodrobot_worker::Worker;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_telemetry();
    let settings = Settings::from_env().context("reading settings")?;
    // The keys are hashed here; the settings' copy of their text is dropped at once.
    let config = ApiConfig::from_settings(&settings).context("reading the API configuration")?;
    let settings = Settings { api_keys: None, ..settings };
    check_exposure(settings.api_addr, &config.keys)?;
    tracing::info!(keys = ?config.keys, cors = config.cors.is_enabled(), "access configured");
    let infra = Infra::from_settings(&settings).await.context("setting up adapters")?;
    let shutdown = CancellationToken::new();

    if infra.records == Backend::Memory || infra.tasks == Backend::Memory {
        tracing::warn!(
            records = ?infra.records,
            tasks = ?infra.tasks,
            "state is kept in this process's memory and is LOST ON EXIT; set DATABASE_URL and REDIS_URL to keep it"
        );
    }
    let mut state = AppState::configured(&infra, &config);
    let worker = if infra.tasks == Backend::Memory {
        let worker = Worker::new(worker_config(&settings).context("WORKER_QUEUES")?, worker_deps(&infra));
        tracing::warn!(worker = worker.id(), "tasks are in memory: running an embedded worker in this process");
        // One process, one /metrics: the API's scrape carries the worker's series.
        state = state.with_embedded_worker(worker.metrics());
        Some(tokio::spawn(worker.run(shutdown.clone())))
    } else {
        None
    };

    let listener = tokio::net::TcpListener::bind(settings.api_addr)
        .await
        .with_context(|| format!("listening on {}", settings.api_addr))?;
    tracing::info!(addr = %settings.api_addr, docs = "/docs", "serving the API");
    tokio::spawn(signals(shutdown.clone()));

    let served = serve(listener, state, shutdown.clone()).await;
    // Whatever ended the server, the worker stops too (and hands back what it holds).
    shutdown.cancel();
    if let Some(worker) = worker {
        worker.await.context("embedded worker panicked")?.context("embedded worker")?;
    }
    served.context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM or SIGINT: stop accepting, drain requests, stop the worker.
async fn signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    tracing::info!("signal received: draining requests and stopping the worker");
    shutdown.cancel();
}
