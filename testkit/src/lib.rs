//! Contract test suites shared by every adapter, so that the memory, Postgres and Redis
//! adapters of a port cannot drift apart; plus a [`ManualClock`] and test-data builders.
//!
//! Each suite is a set of `pub async fn`s taking a fixture, and a macro that expands to one
//! `#[tokio::test]` per function in the calling module:
//!
//! ```text
//! goodrobot_testkit::repository_contract_tests!(async { RepoFixture { users, orders, bids } });
//! goodrobot_testkit::cache_contract_tests!(async { Arc::new(cache) as Arc<dyn Cache> });
//! goodrobot_testkit::rate_limiter_contract_tests!(async { Arc::new(limiter) as Arc<dyn RateLimiter> });
//! goodrobot_testkit::broker_contract_tests!(async { BrokerFixture { broker, clock: TestClock::Real } });
//! goodrobot_testkit::results_contract_tests!(async { Arc::new(results) as Arc<dyn ResultBackend> });
//! goodrobot_testkit::results_ttl_contract_tests!(async { ResultsTtlFixture { results, ttl, clock } });
//! ```
//!
//! The fixture expression is evaluated once per test and must give a fresh, empty adapter
//! (a new database or schema, a random Redis key prefix). Time-dependent tests work both
//! with a [`TestClock::Manual`] clock that the adapter reads and with real time
//! ([`TestClock::Real`], short durations; a test then waits for the effect through a call
//! that blocks until it happens, such as a fetch with a wait).

pub mod broker;
pub mod builders;
pub mod cache;
pub mod clock;
mod macros;
pub mod rate_limit;
pub mod redis_cluster;
pub mod repository;
pub mod results;

pub use broker::BrokerFixture;
pub use builders::{
    TaskMessageBuilder, new_bid, new_order, new_order_in, new_user, new_user_with_phone, task_message, unique_queue,
};
pub use cache::CacheFixture;
pub use clock::{ManualClock, TestClock};
pub use rate_limit::RateLimiterFixture;
pub use repository::RepoFixture;
pub use results::{ResultsFixture, ResultsTtlFixture};

/// The tokio the generated tests run on (so a crate using the macros needs no tokio of its own).
#[doc(hidden)]
pub use tokio;

/// The StateStore and SessionStore contracts (`state_store_contract_tests!`, `session_store_contract_tests!`).
pub mod kv_contracts;

/// The WorkerRegistry and EventLog contracts (`worker_registry_contract_tests!`, `event_log_contract_tests!`).
pub mod monitor;
