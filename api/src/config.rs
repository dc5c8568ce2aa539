//! The API's own configuration, from the settings: API keys (hashed here, the raw text
//! dropped), CORS origins, rate limits and the task policy; and the safe-default rule that an
//! API without keys listens on loopback only.

use goodrobot_bootstrap::Settings;
use goodrobot_ports::services::TaskPolicy;
use std::{net::SocketAddr, sync::Arc, time::Duration};

use crate::{
    auth::{ApiKeys, KeyConfigError},
    cors::{BadOrigin, CorsPolicy},
    rate_limit::RateLimits,
};

/// Configuration the API cannot start with. Never quotes a key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("API_KEYS: {0}")]
    Keys(KeyConfigError),
    #[error("API_KEYS_FILE: {0}")]
    KeysFile(KeyConfigError),
    #[error("API_KEYS_FILE: cannot read {path}: {source}")]
    ReadKeysFile { path: String, source: std::io::Error },
    #[error(transparent)]
    Cors(#[from] BadOrigin),
}

/// What the API takes from the settings.
#[derive(Debug, Clone, Default)]
pub struct ApiConfig {
    /// Empty: the API is open, on loopback only (see [`check_exposure`]).
    pub keys: Arc<ApiKeys>,
    pub cors: CorsPolicy,
    pub rate_limits: RateLimits,
    pub task_policy: TaskPolicy,
}

impl ApiConfig {
    /// Reads `API_KEYS` and `API_KEYS_FILE` (both may be set: their keys add up),
    /// `CORS_ALLOWED_ORIGINS`, the rate limits and the task policy.
    ///
    /// # Errors
    /// A key entry or origin that cannot be used, or a keys file that cannot be read.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let inline = match &settings.api_keys {
            Some(spec) => ApiKeys::parse(spec).map_err(ConfigError::Keys)?,
            None => ApiKeys::default(),
        };
        let keys = match &settings.api_keys_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::ReadKeysFile { path: path.display().to_string(), source })?;
                let from_file = ApiKeys::parse(&text).map_err(ConfigError::KeysFile)?;
                inline.merge(from_file).map_err(ConfigError::KeysFile)?
            }
            None => inline,
        };
        Ok(Self {
            keys: Arc::new(keys),
            cors: CorsPolicy::new(&settings.cors_allowed_origins)?,
            rate_limits: RateLimits {
                reads: settings.rate_limit_reads_per_min,
                writes: settings.rate_limit_writes_per_min,
                period: Duration::from_secs(60),
            },
            task_policy: TaskPolicy {
                eta_horizon: settings.task_eta_horizon,
                max_args_bytes: settings.task_max_args_bytes,
                ..TaskPolicy::default()
            },
        })
    }
}

/// An API without keys on an address others can reach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to listen on {addr} without API keys: anyone who can reach it could act for every user. \
     Set API_KEYS (or API_KEYS_FILE), or listen on a loopback address such as 127.0.0.1"
)]
pub struct ExposedWithoutKeys {
    pub addr: SocketAddr,
}

/// The safe default: without keys the API may listen on loopback only.
///
/// # Errors
/// `keys` is empty and `addr` is not a loopback address (`0.0.0.0` and `::` included).
pub fn check_exposure(addr: SocketAddr, keys: &ApiKeys) -> Result<(), ExposedWithoutKeys> {
    if keys.is_empty() && !addr.ip().to_canonical().is_loopback() {
        return Err(ExposedWithoutKeys { addr });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        Settings::from_map(&vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>())
            .unwrap()
    }

    #[test]
    fn without_keys_only_loopback_is_allowed() {
        let none = ApiKeys::default();
        assert!(check_exposure("127.0.0.1:8000".parse().unwrap(), &none).is_ok());
        assert!(check_exposure("[::1]:8000".parse().unwrap(), &none).is_ok());
        for addr in ["0.0.0.0:8000", "[::]:8000", "10.0.0.5:8000"] {
            let e = check_exposure(addr.parse().unwrap(), &none).unwrap_err();
            assert!(e.to_string().contains("API_KEYS"), "{e}");
        }
    }

    #[test]
    fn with_keys_any_address_is_allowed() {
        let keys = ApiKeys::parse(&format!("admin:{}", "a".repeat(40))).unwrap();
        assert!(check_exposure("0.0.0.0:8000".parse().unwrap(), &keys).is_ok());
    }

    #[test]
    fn keys_come_from_the_variable_and_the_file_together() {
        let dir = std::env::temp_dir().join(format!("goodrobot-keys-{}", uuid::Uuid::new_v4()));
        std::fs::write(&dir, format!("# viewer\nviewer:{}\n", "v".repeat(40))).unwrap();
        let s = settings(&[("API_KEYS", &format!("bot:{}", "b".repeat(40))), ("API_KEYS_FILE", dir.to_str().unwrap())]);
        let c = ApiConfig::from_settings(&s).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(c.keys.len(), 2);
    }

    #[test]
    fn an_unreadable_keys_file_is_an_error_naming_the_variable() {
        let s = settings(&[("API_KEYS_FILE", "/nonexistent/goodrobot/keys")]);
        assert!(ApiConfig::from_settings(&s).unwrap_err().to_string().starts_with("API_KEYS_FILE"));
    }

    #[test]
    fn a_bad_key_entry_is_an_error_that_does_not_quote_it() {
        let s = settings(&[("API_KEYS", "admin:tooshort-secret")]);
        let e = ApiConfig::from_settings(&s).unwrap_err().to_string();
        assert!(e.starts_with("API_KEYS") && !e.contains("tooshort-secret"), "{e}");
    }

    #[test]
    fn the_task_policy_follows_the_settings() {
        let s = settings(&[("TASK_ETA_HORIZON_DAYS", "2"), ("TASK_MAX_ARGS_BYTES", "100")]);
        let p = ApiConfig::from_settings(&s).unwrap().task_policy;
        assert_eq!((p.eta_horizon, p.max_args_bytes), (Duration::from_secs(2 * 86_400), 100));
    }
}
