//! The shared broker and result-backend contracts (the memory adapters pass them too), on the
//! real Redis and real time: once on the machine's single Redis, once on the local Redis
//! Cluster.

mod common;

/// The broker, results and results-expiry suites, each fixture on a `TestRedis` from `$connect`.
macro_rules! suites {
    ($connect:path) => {
        mod broker {
            use crate::common::{Scoped, TestRedis};
            use goodrobot_ports::Broker;
            use goodrobot_testkit::{BrokerFixture, TestClock};
            use std::sync::Arc;

            async fn fixture() -> BrokerFixture {
                let redis: TestRedis = $connect().await;
                let broker = Scoped { inner: redis.broker(), cleanup: redis.cleanup.clone() };
                BrokerFixture { broker: Arc::new(broker) as Arc<dyn Broker>, clock: TestClock::Real }
            }

            goodrobot_testkit::broker_contract_tests!(fixture());
        }

        mod results {
            use crate::common::{Scoped, TestRedis};
            use goodrobot_ports::ResultBackend;
            use goodrobot_testkit::{ResultsFixture, ResultsTtlFixture, TestClock};
            use std::{sync::Arc, time::Duration};

            async fn fixture() -> ResultsFixture {
                let redis: TestRedis = $connect().await;
                let results = Scoped { inner: redis.results(), cleanup: redis.cleanup.clone() };
                ResultsFixture { results: Arc::new(results) as Arc<dyn ResultBackend> }
            }

            async fn ttl_fixture() -> ResultsTtlFixture {
                let redis: TestRedis = $connect().await;
                let ttl = Duration::from_millis(600);
                let results = Scoped { inner: redis.results_with_ttl(ttl), cleanup: redis.cleanup.clone() };
                ResultsTtlFixture { results: Arc::new(results) as Arc<dyn ResultBackend>, ttl, clock: TestClock::Real }
            }

            goodrobot_testkit::results_contract_tests!(fixture());
            goodrobot_testkit::results_ttl_contract_tests!(ttl_fixture());
        }
    };
}

mod single {
    suites!(crate::common::TestRedis::new);
}

mod cluster {
    suites!(crate::common::TestRedis::cluster);
}
