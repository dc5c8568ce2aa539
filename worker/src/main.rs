//! `goodrobot-worker`: runs the task runtime against the configured broker.

use anyhow::Context;
use goodrobot_bootstrap::{Backend, Infra, Settings, init_telemetry};
use goodrobot_worker::{Worker, WorkerConfig, WorkerDeps};
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
    tracing::info!(worker = worker.id(), "starting");
    let shutdown = CancellationToken::new();
    tokio::spawn(signals(shutdown.clone()));
    worker.run(shutdown).await?;
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
