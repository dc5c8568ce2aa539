//! The worker's monitor events are built from the message and the update it wrote (it does
//! not read the record back): they must be the events the record would give.

use chrono::Duration;
use goodrobot_domain::task::{QueueName, StateUpdate, TaskFailure, TaskRecord, TaskState};
use goodrobot_ports::TaskEvent;
use goodrobot_testkit::builders::TaskMessageBuilder;

#[test]
fn an_update_gives_the_event_its_record_would_give() {
    let queue = QueueName::default_queue();
    for eta in [None, Some(Duration::seconds(2))] {
        let mut b = TaskMessageBuilder::new(&queue);
        if let Some(after) = eta {
            b = b.eta(chrono::Utc::now() + after);
        }
        let msg = b.build();
        let t0 = msg.created_at;
        let mut rec = TaskRecord::pending(&msg, t0);
        let mut started = StateUpdate::new(TaskState::Started, t0 + Duration::milliseconds(2500));
        started.worker = Some("w1".into());
        started.fence = Some(1);
        assert!(rec.apply(&started));
        assert_eq!(TaskEvent::of_update(&msg, &started, None), TaskEvent::of(&rec));
        let mut failed = StateUpdate::new(TaskState::Failure, t0 + Duration::milliseconds(4000));
        failed.worker = Some("w1".into());
        failed.fence = Some(1);
        failed.error = Some(TaskFailure::new("Boom", "no"));
        assert!(rec.apply(&failed));
        let ev = TaskEvent::of_update(&msg, &failed, Some(started.at));
        assert_eq!(ev, TaskEvent::of(&rec));
        assert_eq!((ev.runtime_s, ev.error_kind.as_deref()), (Some(1.5), Some("Boom")));
    }
}
