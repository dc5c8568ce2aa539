//! The shared contract suites (goodrobot-testkit) against the Redis adapters, each test on
//! its own key prefix, on real time (Redis's clock).

mod common;

use common::{Scoped, TestRedis};
use goodrobot_ports::{Cache, RateLimiter, SessionStore, StateStore};
use goodrobot_redis::{RedisCache, RedisRateLimiter, RedisSessionStore, RedisStateStore};
use std::sync::Arc;

mod cache {
    use super::*;

    goodrobot_testkit::cache_contract_tests!(async {
        let r = TestRedis::new().await;
        Arc::new(Scoped { inner: RedisCache::new(r.pool), cleanup: r.cleanup }) as Arc<dyn Cache>
    });
}

mod rate_limiter {
    use super::*;

    goodrobot_testkit::rate_limiter_contract_tests!(async {
        let r = TestRedis::new().await;
        Arc::new(Scoped { inner: RedisRateLimiter::new(r.pool), cleanup: r.cleanup }) as Arc<dyn RateLimiter>
    });
}

mod state {
    use super::*;

    goodrobot_testkit::state_store_contract_tests!(async {
        let r = TestRedis::new().await;
        Arc::new(Scoped { inner: RedisStateStore::new(r.pool), cleanup: r.cleanup }) as Arc<dyn StateStore>
    });
}

mod sessions {
    use super::*;

    goodrobot_testkit::session_store_contract_tests!(async {
        let r = TestRedis::new().await;
        Arc::new(Scoped { inner: RedisSessionStore::new(r.pool), cleanup: r.cleanup }) as Arc<dyn SessionStore>
    });
}
