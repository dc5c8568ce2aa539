//! Health: a dependency that can say whether it answers (for `/ready`).

use async_trait::async_trait;
use std::{sync::Arc, time::Duration};

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// The dependency's name in `/ready` (e.g. `postgres`, `redis`, `memory`).
    fn name(&self) -> &'static str;
    /// # Errors
    /// A short, secret-free description of why the dependency is not ready.
    async fn check(&self) -> Result<(), String>;
    /// What of `check`'s `error` may be shown on an open readiness endpoint (e.g. which
    /// cluster node is wrong). By default nothing: the error is only logged.
    fn public_error(&self, _error: &str) -> Option<String> {
        None
    }
}

/// One dependency's answer, as a readiness endpoint shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyReport {
    pub name: &'static str,
    /// `None`: it answered. Else what may be shown: the check's public error, or a generic
    /// "does not answer" / "no answer within N s" (the cause itself is logged).
    pub error: Option<String>,
}

/// Asks every check, each within `timeout`, one after the other; logs every failure's cause.
pub async fn check_all(checks: &[Arc<dyn HealthCheck>], timeout: Duration) -> Vec<DependencyReport> {
    let mut out = Vec::with_capacity(checks.len());
    for check in checks {
        let error = match tokio::time::timeout(timeout, check.check()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                // The cause may name hosts or drivers: the log gets it, the answer only what
                // the check marks as safe to show.
                tracing::warn!(dependency = check.name(), error = %e, "not ready");
                Some(check.public_error(&e).unwrap_or_else(|| "does not answer".to_owned()))
            }
            Err(_) => {
                tracing::warn!(dependency = check.name(), "not ready: no answer in time");
                Some(format!("no answer within {} s", timeout.as_secs()))
            }
        };
        out.push(DependencyReport { name: check.name(), error });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_check_shows_only_its_public_error() {
        let mut secret = MockHealthCheck::new();
        secret.expect_name().return_const("postgres");
        secret.expect_check().returning(|| Err("password authentication failed for user x".to_owned()));
        secret.expect_public_error().returning(|_| None);
        let mut public = MockHealthCheck::new();
        public.expect_name().return_const("redis");
        public.expect_check().returning(|| Err("cluster: node 127.0.0.1:7001 is failing".to_owned()));
        public.expect_public_error().returning(|e| Some(e.to_owned()));
        let mut fine = MockHealthCheck::new();
        fine.expect_name().return_const("memory");
        fine.expect_check().returning(|| Ok(()));
        let checks: Vec<Arc<dyn HealthCheck>> = vec![Arc::new(secret), Arc::new(public), Arc::new(fine)];
        let reports = check_all(&checks, Duration::from_secs(1)).await;
        assert_eq!(
            reports,
            vec![
                DependencyReport { name: "postgres", error: Some("does not answer".to_owned()) },
                DependencyReport { name: "redis", error: Some("cluster: node 127.0.0.1:7001 is failing".to_owned()) },
                DependencyReport { name: "memory", error: None },
            ]
        );
    }
}
