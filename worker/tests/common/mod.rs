//! Shared set-up for the runtime tests: memory adapters, a worker, and helpers.
#![allow(dead_code, missing_debug_implementations)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::{
    Address, Category, Description, NewUser, Note, PersonName, Price, Role, TgId, User,
    task::{QueueName, TaskId, TaskRecord, TaskState},
};
use goodrobot_memory::{
    MemoryBroker, MemoryCache, MemoryEventLog, MemoryRateLimiter, MemoryResults, MemoryStore, MemoryWorkerRegistry,
    RecordingNotifier,
};
use goodrobot_ports::{
    Clock, ResultBackend, SystemClock, UserRepository,
    services::{BidService, OrderService, PostOrder, TaskPolicy, TaskService},
};
use goodrobot_worker::{Registry, Worker, WorkerConfig, WorkerDeps};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(Utc::now())))
    }
    pub fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += chrono::Duration::from_std(d).unwrap();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub struct Harness {
    pub deps: WorkerDeps,
    pub store: MemoryStore,
    pub broker: Arc<dyn goodrobot_ports::Broker>,
    pub results: Arc<dyn ResultBackend>,
    pub notifier: Arc<RecordingNotifier>,
    pub tasks: TaskService,
    pub shutdown: CancellationToken,
    pub worker: Option<JoinHandle<()>>,
    /// The Redis key prefix to delete at the end (Redis harness only).
    pub redis_prefix: Option<String>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(prefix) = &self.redis_prefix
            && let Ok(client) = redis::Client::open(redis_url())
            && let Ok(mut c) = client.get_connection()
        {
            let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut c).unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("UNLINK").arg(keys).query(&mut c);
            }
        }
    }
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The same set-up with the Redis broker and result backend (a random key prefix, deleted
/// at the end); everything else in memory.
pub async fn harness_redis() -> Harness {
    let prefix = format!("grtest-{:016x}", rand::random::<u64>());
    let pool = goodrobot_redis::RedisPool::connect(&goodrobot_redis::RedisConfig::new(redis_url(), prefix.clone()))
        .await
        .expect("the test Redis");
    let mut h = harness();
    let redis_broker = goodrobot_redis_broker::RedisBroker::new(pool.clone(), Default::default());
    let redis_results = goodrobot_redis_broker::RedisResults::new(pool, Default::default());
    h.deps.store = Arc::new(goodrobot_redis_broker::RedisWorkerStore::new(redis_broker.clone(), redis_results.clone()));
    let broker: Arc<dyn goodrobot_ports::Broker> = Arc::new(redis_broker);
    let results: Arc<dyn ResultBackend> = Arc::new(redis_results);
    h.deps.broker = broker.clone();
    h.deps.results = results.clone();
    h.tasks = TaskService::new(broker.clone(), results.clone(), h.deps.clock.clone(), TaskPolicy::default());
    h.broker = broker;
    h.results = results;
    h.redis_prefix = Some(prefix);
    h
}

/// Runs one test body on the memory broker and on the Redis broker.
#[macro_export]
macro_rules! on_both_brokers {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                super::$name(super::common::harness()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                super::$name(super::common::harness_redis().await).await
            }
        }
    )*};
}

pub fn harness_with_clock(clock: Arc<dyn Clock>) -> Harness {
    let store = MemoryStore::new();
    let broker = Arc::new(MemoryBroker::new(clock.clone()));
    let results = Arc::new(MemoryResults::new());
    let notifier = Arc::new(RecordingNotifier::default());
    let deps = WorkerDeps {
        broker: broker.clone(),
        store: Arc::new(goodrobot_ports::SeparateWorkerStore { broker: broker.clone(), results: results.clone() }),
        results: results.clone(),
        clock: clock.clone(),
        users: Arc::new(store.clone()),
        orders: Arc::new(store.clone()),
        bids: Arc::new(store.clone()),
        cache: Arc::new(MemoryCache::new(clock.clone())),
        notifier: notifier.clone(),
        rate_limiter: Arc::new(MemoryRateLimiter::new(clock.clone())),
        workers: Arc::new(MemoryWorkerRegistry::new(clock.clone())),
        events: Arc::new(MemoryEventLog::new(10_000)),
    };
    let tasks = TaskService::new(broker.clone(), results.clone(), clock, TaskPolicy::default());
    Harness {
        deps,
        store,
        broker,
        results,
        notifier,
        tasks,
        shutdown: CancellationToken::new(),
        worker: None,
        redis_prefix: None,
    }
}

pub fn harness() -> Harness {
    harness_with_clock(Arc::new(SystemClock))
}

pub fn config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        queues: vec![QueueName::default_queue()],
        lease: Duration::from_secs(5),
        shutdown_timeout: Duration::from_secs(5),
        worker_id: Some("test-worker".into()),
    }
}

impl Harness {
    pub fn start(&mut self, registry: Option<Registry>) {
        self.start_with(config(), registry);
    }

    pub fn start_with(&mut self, config: WorkerConfig, registry: Option<Registry>) {
        let worker = match registry {
            Some(r) => Worker::with_registry(config, self.deps.clone(), r),
            None => Worker::new(config, self.deps.clone()),
        };
        let token = self.shutdown.clone();
        self.worker = Some(tokio::spawn(async move { worker.run(token).await.unwrap() }));
    }

    /// Stops the worker and waits for it to finish.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.worker.take() {
            h.await.unwrap();
        }
    }

    /// Waits (no polling) for the task to finish; panics after 10 s.
    pub async fn finished(&self, id: TaskId) -> TaskRecord {
        let r = self.results.wait(id, Duration::from_secs(10)).await.unwrap().expect("record");
        assert!(r.state.is_terminal(), "task {id} did not finish: {:?}", r.state);
        r
    }

    pub async fn user(&self, tg: i64, role: Role) -> User {
        let u = NewUser { tg_id: TgId::new(tg).unwrap(), role, name: PersonName::new("Test").unwrap(), phone: None };
        self.store.create(u).await.unwrap()
    }

    pub fn orders(&self) -> OrderService {
        OrderService::new(self.deps.users.clone(), self.deps.orders.clone(), self.deps.clock.clone())
    }

    pub fn bids(&self) -> BidService {
        BidService::new(
            self.deps.users.clone(),
            self.deps.orders.clone(),
            self.deps.bids.clone(),
            self.deps.clock.clone(),
        )
    }

    pub async fn order_for(&self, client: &User) -> goodrobot_domain::Order {
        self.orders()
            .create(PostOrder {
                client_id: client.id,
                category: Category::new("plumbing").unwrap(),
                address: Address::new("Main st 1").unwrap(),
                description: Description::new("leak").unwrap(),
                when_at: Utc::now() + chrono::Duration::days(1),
            })
            .await
            .unwrap()
    }

    pub async fn bid(&self, order: &goodrobot_domain::Order, master: &User, price: i64) -> goodrobot_domain::Bid {
        self.bids().place(order.id, master.id, Price::new(price).unwrap(), Note::new("").unwrap()).await.unwrap()
    }
}

pub fn assert_state(r: &TaskRecord, s: TaskState) {
    assert_eq!(r.state, s, "record: {r:#?}");
}

/// A handler whose behaviour each test sets.
pub struct FnHandler<F>(pub F);

#[async_trait]
impl<F, Fut> goodrobot_worker::TaskHandler<goodrobot_domain::task::DiagNoop> for FnHandler<F>
where
    F: Fn(goodrobot_worker::TaskContext) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<serde_json::Value, goodrobot_worker::TaskError>> + Send,
{
    async fn handle(
        &self,
        ctx: &goodrobot_worker::TaskContext,
        _args: goodrobot_domain::task::DiagNoopArgs,
    ) -> Result<serde_json::Value, goodrobot_worker::TaskError> {
        (self.0)(ctx.clone()).await
    }
}
