//! Ports: the traits GoodRobot's core needs from the outside world, each with its own error
//! type, and the application services (use cases) written against them.
//!
//! No adapter type appears here; adapters translate their drivers' errors into these.

pub mod broker;
pub mod cache;
pub mod cache_stats;
pub mod clock;
pub mod health;
pub mod monitor;
pub mod notifier;
pub mod rate_limit;
pub mod repository;
pub mod results;
pub mod services;
pub mod session;
pub mod state;
pub mod worker_store;

pub use broker::{Broker, BrokerError, Delivery, EnqueueOutcome, FetchRequest, LeaseToken, QueueStats};
pub use cache::{Cache, CacheError, CacheExt};
pub use cache_stats::CacheStats;
pub use clock::{Clock, SystemClock};
pub use health::{DependencyReport, HealthCheck, check_all};
pub use monitor::{EventLog, MonitorError, TaskEvent, WorkerInfo, WorkerRegistry};
pub use notifier::{Notification, Notifier, NotifyError, NotifyReceipt};
pub use rate_limit::{RateDecision, RateLimitError, RateLimiter};
pub use repository::{BidRepository, OrderRepository, RepoError, UserRepository};
pub use results::{ResultBackend, ResultError};
pub use session::{Session, SessionError, SessionStore, SessionToken, TokenHash};
pub use state::{StateError, StateStore, UserState};
pub use worker_store::{
    Claimed, SeparateWorkerStore, Settled, Settlement, StartStamp, SubmitStore, WorkerStore, WorkerStoreError,
};
