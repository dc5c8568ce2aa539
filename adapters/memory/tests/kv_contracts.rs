//! The StateStore and SessionStore contracts against the memory adapters, on a manual clock
//! and on real time (as the Redis adapters run them).

use goodrobot_memory::{MemorySessionStore, MemoryStateStore};
use goodrobot_ports::{SessionStore, StateStore, SystemClock};
use goodrobot_testkit::{
    TestClock,
    kv_contracts::{SessionStoreFixture, StateStoreFixture},
};
use std::sync::Arc;

mod state_on_a_manual_clock {
    use super::*;

    goodrobot_testkit::state_store_contract_tests!(async {
        let clock = TestClock::manual();
        StateStoreFixture { store: Arc::new(MemoryStateStore::new(clock.clock())), clock }
    });
}

mod state_on_real_time {
    use super::*;

    goodrobot_testkit::state_store_contract_tests!(async {
        Arc::new(MemoryStateStore::new(Arc::new(SystemClock))) as Arc<dyn StateStore>
    });
}

mod sessions_on_a_manual_clock {
    use super::*;

    goodrobot_testkit::session_store_contract_tests!(async {
        let clock = TestClock::manual();
        SessionStoreFixture { store: Arc::new(MemorySessionStore::new(clock.clock())), clock }
    });
}

mod sessions_on_real_time {
    use super::*;

    goodrobot_testkit::session_store_contract_tests!(async {
        Arc::new(MemorySessionStore::new(Arc::new(SystemClock))) as Arc<dyn SessionStore>
    });
}
