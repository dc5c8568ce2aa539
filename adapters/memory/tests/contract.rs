//! The shared contract suites, run against the memory adapters — each time-dependent suite
//! both on a manual clock and on real time, as the Redis adapters will run it.

use goodrobot_memory::{MemoryBroker, MemoryCache, MemoryRateLimiter, MemoryResults, MemoryStore};
use goodrobot_ports::{Cache, RateLimiter, ResultBackend, SystemClock};
use goodrobot_testkit::{BrokerFixture, CacheFixture, RateLimiterFixture, RepoFixture, ResultsTtlFixture, TestClock};
use std::{sync::Arc, time::Duration};

mod repository {
    use super::*;

    goodrobot_testkit::repository_contract_tests!(async {
        let store = MemoryStore::new();
        RepoFixture { users: Arc::new(store.clone()), orders: Arc::new(store.clone()), bids: Arc::new(store) }
    });
}

mod cache_on_a_manual_clock {
    use super::*;

    goodrobot_testkit::cache_contract_tests!(async {
        let clock = TestClock::manual();
        CacheFixture { cache: Arc::new(MemoryCache::new(clock.clock())), clock }
    });
}

mod cache_on_real_time {
    use super::*;

    goodrobot_testkit::cache_contract_tests!(async {
        Arc::new(MemoryCache::new(Arc::new(SystemClock))) as Arc<dyn Cache>
    });
}

mod rate_limiter_on_a_manual_clock {
    use super::*;

    goodrobot_testkit::rate_limiter_contract_tests!(async {
        let clock = TestClock::manual();
        RateLimiterFixture { limiter: Arc::new(MemoryRateLimiter::new(clock.clock())), clock }
    });
}

mod rate_limiter_on_real_time {
    use super::*;

    goodrobot_testkit::rate_limiter_contract_tests!(async {
        Arc::new(MemoryRateLimiter::new(Arc::new(SystemClock))) as Arc<dyn RateLimiter>
    });
}

mod broker_on_a_manual_clock {
    use super::*;

    goodrobot_testkit::broker_contract_tests!(async {
        let clock = TestClock::manual();
        BrokerFixture { broker: Arc::new(MemoryBroker::new(clock.clock())), clock }
    });
}

mod broker_on_real_time {
    use super::*;

    goodrobot_testkit::broker_contract_tests!(async {
        BrokerFixture { broker: Arc::new(MemoryBroker::new(Arc::new(SystemClock))), clock: TestClock::Real }
    });
}

mod results {
    use super::*;

    goodrobot_testkit::results_contract_tests!(async { Arc::new(MemoryResults::new()) as Arc<dyn ResultBackend> });
}

mod results_expiry_on_a_manual_clock {
    use super::*;

    goodrobot_testkit::results_ttl_contract_tests!(async {
        let (clock, ttl) = (TestClock::manual(), Duration::from_secs(60));
        ResultsTtlFixture { results: Arc::new(MemoryResults::with_ttl(clock.clock(), ttl)), ttl, clock }
    });
}

mod results_expiry_on_real_time {
    use super::*;

    goodrobot_testkit::results_ttl_contract_tests!(async {
        let ttl = Duration::from_millis(500);
        ResultsTtlFixture {
            results: Arc::new(MemoryResults::with_ttl(Arc::new(SystemClock), ttl)),
            ttl,
            clock: TestClock::Real,
        }
    });
}
