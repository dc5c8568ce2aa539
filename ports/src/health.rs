//! Health: a dependency that can say whether it answers (for `/ready`).

use async_trait::async_trait;

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// The dependency's name in `/ready` (e.g. `postgres`, `redis`, `memory`).
    fn name(&self) -> &'static str;
    /// # Errors
    /// A short, secret-free description of why the dependency is not ready.
    async fn check(&self) -> Result<(), String>;
}
