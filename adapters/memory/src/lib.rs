//! In-process adapters for every port: the embedded default (state is lost on exit) and the
//! doubles that in-process tests run against.
//!
//! Each adapter keeps its state behind one `std::sync::Mutex` that is never held across an
//! `await`, so every operation is atomic; waiting (broker fetch, result wait) uses
//! `tokio::sync::Notify`, never a polling loop. Time comes from the injected [`Clock`]
//! (`goodrobot_ports::Clock`), so tests can move it by hand.

mod broker;
mod cache;
mod expiring;
mod lock;
mod notifier;
mod rate_limit;
mod results;
mod store;
mod time;

pub use broker::{MemoryBroker, MemoryBrokerConfig};
pub use cache::MemoryCache;
pub use notifier::RecordingNotifier;
pub use rate_limit::MemoryRateLimiter;
pub use results::MemoryResults;
pub use store::MemoryStore;

// Temporary user state and sessions (issue 4).
mod session;
mod state;
pub use session::MemorySessionStore;
pub use state::MemoryStateStore;

// What the monitor reads: worker heartbeats and the task event log.
mod monitor;
pub use monitor::{MemoryEventLog, MemoryWorkerRegistry};
