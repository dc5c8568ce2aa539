//! The deployment files are valid and name the real binaries with their real arguments
//! (there is no Docker engine here, so the compose file is checked as YAML).

use std::{collections::BTreeSet, path::PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn compose() -> Yaml {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

/// Binaries the workspace builds (`[[bin]] name = …` and `src/bin/*.rs`).
fn workspace_bins() -> BTreeSet<String> {
    let mut bins = BTreeSet::new();
    for krate in ["api", "worker", "migrations", "bench", "monitor"] {
        let dir = root().join(krate);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let mut in_bin = false;
        for line in manifest.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_bin = line == "[[bin]]";
            } else if in_bin && let Some(v) = line.strip_prefix("name = ") {
                bins.insert(v.trim_matches('"').to_owned());
            }
        }
        if let Ok(entries) = std::fs::read_dir(dir.join("src/bin")) {
            for e in entries.flatten() {
                if let Some(stem) = e.path().file_stem() {
                    bins.insert(stem.to_string_lossy().into_owned());
                }
            }
        }
    }
    bins
}

fn service<'a>(c: &'a Yaml, name: &str) -> &'a Yaml {
    let s = &c["services"][name];
    assert!(!s.is_badvalue(), "service {name} is missing");
    s
}

fn command(s: &Yaml) -> Vec<String> {
    s["command"].as_vec().map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

#[test]
fn compose_has_every_service_and_app_commands_are_real_binaries() {
    let c = compose();
    let bins = workspace_bins();
    for (name, bin) in [
        ("api", "goodrobot-api"),
        ("worker", "goodrobot-worker"),
        ("migrate", "goodrobot-migrate"),
        ("monitor", "goodrobot-monitor"),
    ] {
        let cmd = command(service(&c, name));
        assert_eq!(cmd.first().map(String::as_str), Some(bin), "{name}: {cmd:?}");
        assert!(bins.contains(bin), "{bin} is not built by the workspace ({bins:?})");
    }
    assert_eq!(command(service(&c, "migrate")).get(1).map(String::as_str), Some("run"));
    assert_eq!(command(service(&c, "monitor")).get(1).map(String::as_str), Some("serve"));
    for name in ["redis", "postgres"] {
        assert!(!service(&c, name)["healthcheck"].is_badvalue(), "{name} has no healthcheck");
    }
}

#[test]
fn the_api_listening_off_loopback_is_given_keys() {
    let c = compose();
    let env = &service(&c, "api")["environment"];
    assert_eq!(env["API_ADDR"].as_str(), Some("0.0.0.0:8000"));
    assert!(env["API_KEYS"].as_str().is_some_and(|v| v.contains("API_KEYS")), "API_KEYS must come from .env");
    let example = std::fs::read_to_string(root().join(".env.example")).unwrap();
    assert!(example.lines().any(|l| l.starts_with("API_KEYS=")), ".env.example shows API_KEYS");
}

#[test]
fn the_monitor_reads_redis_only_and_is_published_on_loopback_port_5555() {
    let c = compose();
    let m = service(&c, "monitor");
    let env = &m["environment"];
    assert_eq!(env["MONITOR_ADDR"].as_str(), Some("0.0.0.0:5555"));
    assert_eq!(env["DATABASE_URL"].as_str(), Some(""), "the monitor needs no database");
    assert_eq!(m["depends_on"]["redis"]["condition"].as_str(), Some("service_healthy"));
    let ports: Vec<&str> = m["ports"].as_vec().unwrap().iter().filter_map(Yaml::as_str).collect();
    assert_eq!(ports, ["127.0.0.1:5555:5555"]);
}

#[test]
fn the_monitor_is_given_the_admins_password_hash() {
    let c = compose();
    let env = &service(&c, "monitor")["environment"];
    let hash = env["MONITOR_ADMIN_PASSWORD_HASH"].as_str().unwrap_or_default();
    assert!(hash.contains("${MONITOR_ADMIN_PASSWORD_HASH:?"), "the hash must come from .env: {hash}");
    let example = std::fs::read_to_string(root().join(".env.example")).unwrap();
    assert!(example.lines().any(|l| l.starts_with("MONITOR_ADMIN_PASSWORD_HASH='$argon2id$")), ".env.example");
}

#[test]
fn redis_keeps_an_append_only_file_and_never_evicts() {
    let c = compose();
    let cmd = command(service(&c, "redis")).join(" ");
    assert!(cmd.contains("--appendonly yes"), "{cmd}");
    assert!(cmd.contains("--maxmemory-policy noeviction"), "{cmd}");
}

#[test]
fn app_services_wait_for_healthy_dependencies_and_migrations() {
    let c = compose();
    for name in ["api", "worker"] {
        let deps = &service(&c, name)["depends_on"];
        assert_eq!(deps["postgres"]["condition"].as_str(), Some("service_healthy"), "{name}");
        assert_eq!(deps["redis"]["condition"].as_str(), Some("service_healthy"), "{name}");
        assert_eq!(deps["migrate"]["condition"].as_str(), Some("service_completed_successfully"), "{name}");
    }
}

#[test]
fn the_image_ships_the_binaries_compose_runs_and_runs_as_non_root() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    for bin in ["goodrobot-api", "goodrobot-worker", "goodrobot-migrate", "goodrobot-monitor"] {
        assert!(dockerfile.contains(&format!("--bin {bin}")), "{bin} not built in the Dockerfile");
    }
    assert!(dockerfile.contains("\nUSER goodrobot"), "the runtime stage must not run as root");
    assert!(dockerfile.matches("FROM ").count() >= 2, "multi-stage build expected");
}

#[test]
fn every_metrics_endpoint_is_reachable_on_the_compose_network() {
    let c = compose();
    // The worker's /metrics listens on all interfaces, exposed to the network but not
    // published (the service scales: replicas cannot share a host port).
    let w = service(&c, "worker");
    assert_eq!(w["environment"]["WORKER_METRICS_ADDR"].as_str(), Some("0.0.0.0:9100"));
    let exposed: Vec<String> = w["expose"]
        .as_vec()
        .expect("the worker exposes its metrics port")
        .iter()
        .filter_map(|p| p.as_str().map(str::to_owned).or_else(|| p.as_i64().map(|n| n.to_string())))
        .collect();
    assert_eq!(exposed, ["9100"]);
    assert!(w["ports"].is_badvalue(), "a scaled service must not publish a fixed host port");
    // The worker keeps the shared settings it merged before.
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    let worker_block = text.split("\n  worker:\n").nth(1).and_then(|b| b.split("\n  monitor:\n").next()).unwrap();
    assert!(worker_block.contains("<<: *app-env"), "the worker's environment must merge the shared one");
    // The API and the monitor serve /metrics on their own listeners, which listen off loopback.
    assert_eq!(service(&c, "api")["environment"]["API_ADDR"].as_str(), Some("0.0.0.0:8000"));
    assert_eq!(service(&c, "monitor")["environment"]["MONITOR_ADDR"].as_str(), Some("0.0.0.0:5555"));
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let expose = dockerfile.lines().find(|l| l.starts_with("EXPOSE ")).unwrap_or_default();
    for port in ["8000", "5555", "9100"] {
        assert!(expose.split_whitespace().any(|p| p == port), "the image exposes {port}: {expose}");
    }
}
