//! `goodrobot-worker`: runs the task runtime against the configured broker, and serves its
//! Prometheus metrics on `WORKER_METRICS_ADDR` (`GET /metrics`).

use anyhow::Context;
use goodrobot_bootstrap::{Backend, Infra, Settings, init_telemetry};
use goodrobot_worker::{Worker, WorkerConfig, WorkerDeps, serve_metrics};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_telemetry();
    let settings = Settings::from_env()?;
    if settings.redis_url.is_none() {
        anyhow::bail!(
            "goodrobot-worker needs a broker: set REDIS_URL. Without it the tasks live in the memory of the \
             API process, which runs its own embedded worker; a separate process cannot share that queue."
        );
    }
    let infra = Infra::from_settings(&settings).await.context("setting up adapters")?;
    if infra.tasks == Backend::Memory {
        anyhow::bail!("goodrobot-worker needs a shared broker, but the tasks backend is in memory");
    }
    let config = WorkerConfig::from_settings(&settings).context("WORKER_QUEUES")?;
    let deps = WorkerDeps::from_infra(&infra);
    let worker = Worker::new(config, deps);
    let listener = tokio::net::TcpListener::bind(settings.worker_metrics_addr)
        .await
        .with_context(|| format!("WORKER_METRICS_ADDR: listening on {}", settings.worker_metrics_addr))?;
    // Port 0 picks a free port (several workers on one host): the log says which.
    let metrics_addr = listener.local_addr().context("WORKER_METRICS_ADDR")?;
    tracing::info!(worker = worker.id(), metrics = %metrics_addr, "starting; metrics at /metrics");
    let shutdown = CancellationToken::new();
    tokio::spawn(signals(shutdown.clone()));
    let metrics = tokio::spawn(serve_metrics(listener, worker.metrics(), shutdown.clone()));
    let ran = worker.run(shutdown.clone()).await;
    // Whatever ended the worker, the metrics listener stops too.
    shutdown.cancel();
    match metrics.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "the metrics listener failed"),
        Err(e) => tracing::warn!(error = %e, "the metrics listener panicked"),
    }
    ran?;
    Ok(())
}

/// First SIGTERM/SIGINT: graceful stop. Second: exit at once (the broker redelivers what
/// was running when its leases expire).
async fn signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    for n in 0.. {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        if n == 0 {
            tracing::info!("signal received: finishing running tasks (send again to stop at once)");
            shutdown.cancel();
        } else {
            tracing::warn!("second signal: exiting now; running tasks will be redelivered");
            std::process::exit(130);
        }
    }
}
