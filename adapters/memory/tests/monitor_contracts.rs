//! The WorkerRegistry and EventLog contracts against the memory adapters; the registry both
//! on a manual clock and on real time (as the Redis adapter runs it).

use goodrobot_memory::{MemoryEventLog, MemoryWorkerRegistry};
use goodrobot_ports::{SystemClock, WorkerRegistry};
use goodrobot_testkit::{
    TestClock,
    monitor::{EventLogFixture, WorkerRegistryFixture},
};
use std::sync::Arc;

mod registry_on_a_manual_clock {
    use super::*;

    goodrobot_testkit::worker_registry_contract_tests!(async {
        let clock = TestClock::manual();
        WorkerRegistryFixture { registry: Arc::new(MemoryWorkerRegistry::new(clock.clock())), clock }
    });
}

mod registry_on_real_time {
    use super::*;

    goodrobot_testkit::worker_registry_contract_tests!(async {
        Arc::new(MemoryWorkerRegistry::new(Arc::new(SystemClock))) as Arc<dyn WorkerRegistry>
    });
}

mod event_log {
    use super::*;

    goodrobot_testkit::event_log_contract_tests!(async {
        EventLogFixture { log: Arc::new(MemoryEventLog::new(20)), capacity: 20 }
    });
}
