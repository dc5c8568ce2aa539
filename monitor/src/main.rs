//! `goodrobot-monitor`: serves the monitor on `MONITOR_ADDR`.
//!
//! `goodrobot-monitor [serve]` serves it; `goodrobot-monitor hash-password` reads a password
//! from standard input and prints its argon2 hash for `MONITOR_ADMIN_PASSWORD_HASH`.

use anyhow::Context;
use goodrobot_bootstrap::{Backend, Infra, Settings, init_telemetry};
use goodrobot_monitor::{MonitorConfig, MonitorDeps, MonitorState, auth::password::hash_password, serve};
use std::io::{BufRead, IsTerminal, Write};
use tokio_util::sync::CancellationToken;

const USAGE: &str = "usage: goodrobot-monitor [serve | hash-password]

  serve          serve the monitor on MONITOR_ADDR (the default)
  hash-password  read a password from standard input, print its argon2 hash for
                 MONITOR_ADMIN_PASSWORD_HASH";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None | Some("serve"), None) => run(),
        (Some("hash-password"), None) => print_hash(),
        (Some("-h" | "--help" | "help"), None) => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

/// Reads one line (the password) and prints its hash.
fn print_hash() -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (shown as you type): ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("reading the password")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        anyhow::bail!("empty password");
    }
    let hash = hash_password(password).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    println!("{hash}");
    Ok(())
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    init_telemetry();
    let settings = Settings::from_env().context("reading settings")?;
    let config = MonitorConfig::from_env().context("reading MONITOR_* settings")?;
    if config.admin_password_hash.is_none() {
        anyhow::bail!(
            "MONITOR_ADMIN_PASSWORD_HASH is not set, so nobody could log in: make one with \
             `goodrobot-monitor hash-password` and set it (with MONITOR_ADMIN_USER, default admin)"
        );
    }
    let infra = Infra::from_settings(&settings).await.context("setting up adapters")?;
    if infra.tasks == Backend::Memory {
        tracing::warn!(
            "REDIS_URL is not set: this monitor reads its own empty in-memory broker, not the workers'; \
             set REDIS_URL to the broker the API and workers use"
        );
    }
    let deps = MonitorDeps::from_infra(&infra);
    let addr = config.addr;
    if !addr.ip().is_loopback() && !config.cookie_secure {
        tracing::warn!(
            %addr,
            "the monitor listens beyond loopback without MONITOR_COOKIE_SECURE: serve it behind HTTPS and set \
             MONITOR_COOKIE_SECURE=true"
        );
    }
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    tracing::info!(%addr, queues = ?config.queues, user = %config.admin_user, "serving the monitor");
    let shutdown = CancellationToken::new();
    tokio::spawn(signals(shutdown.clone()));
    serve(listener, MonitorState::new(deps, config), shutdown).await.context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM or SIGINT: stop accepting and drain requests.
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
    tracing::info!("signal received: draining requests");
    shutdown.cancel();
}
