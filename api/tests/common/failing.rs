//! Adapters that fail the way Postgres and Redis fail, with error texts full of internals
//! (SQL, constraint names, hosts, passwords, script errors) that no response may carry.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::{
    Bid, BidId, NewBid, NewOrder, NewUser, Order, OrderFilter, OrderId, OrderTransition, Page, PageRequest, Selection,
    TgId, User, UserId, UserPatch,
    task::{QueueName, StateUpdate, TaskFailure, TaskId, TaskMessage, TaskRecord},
};
use goodrobot_ports::{
    BidRepository, Broker, BrokerError, Cache, CacheError, Delivery, EnqueueOutcome, FetchRequest, HealthCheck,
    LeaseToken, OrderRepository, QueueStats, RateDecision, RateLimitError, RateLimiter, RepoError, ResultBackend,
    ResultError, StateError, StateStore, UserRepository, UserState,
};
use serde_json::{Map, Value};
use std::time::Duration;

/// What a Postgres failure says (for the log only).
pub const SQL_ERROR: &str = r#"SQL: duplicate key value violates unique constraint "users_pkey" DETAIL: Key (id)=(1) already exists; password=hunter2"#;
/// What a lost Postgres connection says.
pub const PG_DOWN: &str = r#"connection to server at "10.9.8.7", port 5432 failed: password authentication failed for user "goodrobot" (s3cret)"#;
/// What a Redis failure says.
pub const REDIS_ERROR: &str = "ERR Error running script (call to f_9a1c): @user_script:12: WRONGTYPE Operation against a key holding the wrong kind of value";
/// What a lost Redis connection says.
pub const REDIS_DOWN: &str = "redis://:s3cret@10.9.8.7:6379: Connection refused (os error 111)";

/// Fragments of the texts above; none may appear in a response.
pub const LEAKS: &[&str] =
    &["SQL", "users_pkey", "hunter2", "10.9.8.7", "s3cret", "WRONGTYPE", "user_script", "os error", "DETAIL"];

/// Asserts that `text` (a response body) contains none of [`LEAKS`].
#[track_caller]
pub fn assert_no_leak(text: &str) {
    for leak in LEAKS {
        assert!(!text.contains(leak), "the response leaks {leak:?}: {text}");
    }
}

/// How a [`Failing`] adapter fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A bug or an unexpected answer (`Internal`): 500.
    Internal,
    /// The server is gone (`Unavailable`): 503.
    Unavailable,
    /// The adapter panics with internals in the message.
    Panic,
}

/// Every port, failing (see [`Failure`]).
#[derive(Debug, Clone, Copy)]
pub struct Failing(pub Failure);

impl Failing {
    fn repo<T>(&self) -> Result<T, RepoError> {
        match self.0 {
            Failure::Internal => Err(RepoError::Internal(SQL_ERROR.into())),
            Failure::Unavailable => Err(RepoError::Unavailable(PG_DOWN.into())),
            Failure::Panic => panic!("{SQL_ERROR}"),
        }
    }

    fn broker<T>(&self) -> Result<T, BrokerError> {
        match self.0 {
            Failure::Internal => Err(BrokerError::Internal(REDIS_ERROR.into())),
            Failure::Unavailable => Err(BrokerError::Unavailable(REDIS_DOWN.into())),
            Failure::Panic => panic!("{REDIS_ERROR}"),
        }
    }

    fn results<T>(&self) -> Result<T, ResultError> {
        match self.0 {
            Failure::Internal => Err(ResultError::Internal(REDIS_ERROR.into())),
            Failure::Unavailable => Err(ResultError::Unavailable(REDIS_DOWN.into())),
            Failure::Panic => panic!("{REDIS_ERROR}"),
        }
    }

    fn state<T>(&self) -> Result<T, StateError> {
        match self.0 {
            Failure::Panic => panic!("{REDIS_ERROR}"),
            _ => Err(StateError::Unavailable(REDIS_DOWN.into())),
        }
    }

    fn cache<T>(&self) -> Result<T, CacheError> {
        match self.0 {
            Failure::Panic => panic!("{REDIS_ERROR}"),
            _ => Err(CacheError::Unavailable(REDIS_DOWN.into())),
        }
    }
}

#[async_trait]
impl UserRepository for Failing {
    async fn create(&self, _: NewUser) -> Result<User, RepoError> {
        self.repo()
    }
    async fn get(&self, _: UserId) -> Result<User, RepoError> {
        self.repo()
    }
    async fn find_by_tg_id(&self, _: TgId) -> Result<User, RepoError> {
        self.repo()
    }
    async fn list(&self, _: PageRequest) -> Result<Page<User>, RepoError> {
        self.repo()
    }
    async fn update(&self, _: UserId, _: UserPatch) -> Result<User, RepoError> {
        self.repo()
    }
}

#[async_trait]
impl OrderRepository for Failing {
    async fn create(&self, _: NewOrder, _: DateTime<Utc>) -> Result<Order, RepoError> {
        self.repo()
    }
    async fn get(&self, _: OrderId) -> Result<Order, RepoError> {
        self.repo()
    }
    async fn list(&self, _: OrderFilter, _: PageRequest) -> Result<Page<Order>, RepoError> {
        self.repo()
    }
    async fn count(&self, _: OrderFilter) -> Result<u64, RepoError> {
        self.repo()
    }
    async fn transition(&self, _: OrderId, _: OrderTransition, _: DateTime<Utc>) -> Result<Order, RepoError> {
        self.repo()
    }
}

#[async_trait]
impl BidRepository for Failing {
    async fn create(&self, _: NewBid, _: DateTime<Utc>) -> Result<Bid, RepoError> {
        self.repo()
    }
    async fn get(&self, _: BidId) -> Result<Bid, RepoError> {
        self.repo()
    }
    async fn list_for_order(&self, _: OrderId) -> Result<Vec<Bid>, RepoError> {
        self.repo()
    }
    async fn select(&self, _: BidId, _: DateTime<Utc>) -> Result<Selection, RepoError> {
        self.repo()
    }
}

#[async_trait]
impl Broker for Failing {
    async fn enqueue(&self, _: &[TaskMessage]) -> Result<Vec<EnqueueOutcome>, BrokerError> {
        self.broker()
    }
    async fn fetch(&self, _: &FetchRequest) -> Result<Vec<Delivery>, BrokerError> {
        self.broker()
    }
    async fn renew(&self, _: &[LeaseToken], _: Duration) -> Result<Vec<bool>, BrokerError> {
        self.broker()
    }
    async fn ack(&self, _: &LeaseToken) -> Result<(), BrokerError> {
        self.broker()
    }
    async fn retry(&self, _: &LeaseToken, _: &TaskMessage, _: DateTime<Utc>) -> Result<(), BrokerError> {
        self.broker()
    }
    async fn release(&self, _: &LeaseToken) -> Result<(), BrokerError> {
        self.broker()
    }
    async fn dead_letter(&self, _: &LeaseToken, _: &TaskFailure) -> Result<(), BrokerError> {
        self.broker()
    }
    async fn replay(&self, _: TaskId) -> Result<TaskMessage, BrokerError> {
        self.broker()
    }
    async fn revoke(&self, _: TaskId, _: &str, _: Duration) -> Result<(), BrokerError> {
        self.broker()
    }
    async fn revoked(&self, _: TaskId) -> Result<Option<String>, BrokerError> {
        self.broker()
    }
    async fn stats(&self, _: &QueueName) -> Result<QueueStats, BrokerError> {
        self.broker()
    }
    async fn ping(&self) -> Result<(), BrokerError> {
        self.broker()
    }
}

#[async_trait]
impl ResultBackend for Failing {
    async fn create(&self, _: &TaskRecord) -> Result<bool, ResultError> {
        self.results()
    }
    async fn record(&self, _: &TaskMessage, _: &StateUpdate) -> Result<TaskRecord, ResultError> {
        self.results()
    }
    async fn create_fresh(&self, _: &[TaskRecord]) -> Result<(), ResultError> {
        self.results()
    }
    async fn record_applied(&self, _: &TaskMessage, _: &StateUpdate) -> Result<bool, ResultError> {
        self.results()
    }
    async fn update(&self, _: TaskId, _: &StateUpdate) -> Result<Option<TaskRecord>, ResultError> {
        self.results()
    }
    async fn get(&self, _: TaskId) -> Result<Option<TaskRecord>, ResultError> {
        self.results()
    }
    async fn delete(&self, _: TaskId) -> Result<(), ResultError> {
        self.results()
    }
    async fn add_child(&self, _: TaskId, _: TaskId) -> Result<(), ResultError> {
        self.results()
    }
    async fn wait(&self, _: TaskId, _: Duration) -> Result<Option<TaskRecord>, ResultError> {
        self.results()
    }
    async fn ping(&self) -> Result<(), ResultError> {
        self.results()
    }
}

#[async_trait]
impl StateStore for Failing {
    async fn get(&self, _: UserId) -> Result<Option<UserState>, StateError> {
        self.state()
    }
    async fn put(&self, _: UserId, _: &UserState, _: Duration) -> Result<(), StateError> {
        self.state()
    }
    async fn patch(&self, _: UserId, _: Map<String, Value>, _: Duration) -> Result<Option<UserState>, StateError> {
        self.state()
    }
    async fn clear(&self, _: UserId) -> Result<bool, StateError> {
        self.state()
    }
}

#[async_trait]
impl Cache for Failing {
    async fn set_key(&self, _: &str, _: &str, _: Option<Duration>) -> Result<(), CacheError> {
        self.cache()
    }
    async fn get_key(&self, _: &str) -> Result<Option<String>, CacheError> {
        self.cache()
    }
    async fn delete_key(&self, _: &str) -> Result<bool, CacheError> {
        self.cache()
    }
    async fn ping(&self) -> Result<(), CacheError> {
        self.cache()
    }
}

#[async_trait]
impl RateLimiter for Failing {
    async fn check(&self, _: &str, _: u32, _: Duration) -> Result<RateDecision, RateLimitError> {
        match self.0 {
            Failure::Panic => panic!("{REDIS_ERROR}"),
            _ => Err(RateLimitError::Unavailable(REDIS_DOWN.into())),
        }
    }
}

#[async_trait]
impl HealthCheck for Failing {
    fn name(&self) -> &'static str {
        "postgres"
    }
    async fn check(&self) -> Result<(), String> {
        Err(PG_DOWN.into())
    }
}
