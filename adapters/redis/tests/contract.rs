//! The shared contract suites (goodrobot-testkit) against the Redis adapters, each test on
//! its own key prefix, on real time (Redis's clock): once on the machine's single Redis, once
//! on the local Redis Cluster.

mod common;

use common::{Scoped, TestRedis};
use goodrobot_ports::{Cache, RateLimiter, SessionStore, StateStore};
use goodrobot_redis::{RedisCache, RedisRateLimiter, RedisSessionStore, RedisStateStore};
use std::sync::Arc;

/// The four suites, each fixture on a `TestRedis` from `$connect`.
macro_rules! suites {
    ($connect:path) => {
        mod cache {
            use super::*;

            goodrobot_testkit::cache_contract_tests!(async {
                let r = $connect().await;
                Arc::new(Scoped { inner: RedisCache::new(r.pool), cleanup: r.cleanup }) as Arc<dyn Cache>
            });
        }

        mod rate_limiter {
            use super::*;

            goodrobot_testkit::rate_limiter_contract_tests!(async {
                let r = $connect().await;
                Arc::new(Scoped { inner: RedisRateLimiter::new(r.pool), cleanup: r.cleanup }) as Arc<dyn RateLimiter>
            });
        }

        mod state {
            use super::*;

            goodrobot_testkit::state_store_contract_tests!(async {
                let r = $connect().await;
                Arc::new(Scoped { inner: RedisStateStore::new(r.pool), cleanup: r.cleanup }) as Arc<dyn StateStore>
            });
        }

        mod sessions {
            use super::*;

            goodrobot_testkit::session_store_contract_tests!(async {
                let r = $connect().await;
                Arc::new(Scoped { inner: RedisSessionStore::new(r.pool), cleanup: r.cleanup }) as Arc<dyn SessionStore>
            });
        }
    };
}

mod single {
    use super::*;

    suites!(TestRedis::new);
}

mod cluster {
    use super::*;

    suites!(TestRedis::cluster);
}
