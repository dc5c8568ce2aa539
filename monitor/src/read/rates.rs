//! Throughput and failure rate over the last minutes, counted from the recent task events.

use chrono::{DateTime, Duration as TimeDelta, DurationRound, Utc};
use goodrobot_domain::task::TaskState;
use goodrobot_ports::TaskEvent;

use crate::model::{MinuteView, RatesView};

/// Rates over the `minutes` minutes up to `now` (the current minute included), from
/// `events` (newest first, as the event log returns them). `window_full` says the log
/// returned as many events as asked for, so history older than its oldest event is unseen
/// and the rates cover only the time since then.
pub fn rates(events: &[TaskEvent], now: DateTime<Utc>, minutes: u32, window_full: bool) -> RatesView {
    let minutes = minutes.max(1);
    let this_minute = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
    let start = this_minute - TimeDelta::minutes(i64::from(minutes) - 1);
    let mut per_minute: Vec<MinuteView> = (0..minutes)
        .map(|i| MinuteView { start: start + TimeDelta::minutes(i64::from(i)), succeeded: 0, failed: 0 })
        .collect();
    let (mut succeeded, mut failed, mut retried) = (0u64, 0u64, 0u64);
    for e in events.iter().filter(|e| e.at >= start && e.at <= now) {
        let slot = usize::try_from((e.at - start).num_minutes()).unwrap_or(0).min(per_minute.len() - 1);
        match e.state {
            TaskState::Success => {
                succeeded += 1;
                per_minute[slot].succeeded += 1;
            }
            TaskState::Failure => {
                failed += 1;
                per_minute[slot].failed += 1;
            }
            TaskState::Retry => retried += 1,
            _ => {}
        }
    }
    let seen_from = match events.last() {
        Some(oldest) if window_full && oldest.at > start => oldest.at,
        _ => start,
    };
    let covered_secs = ((now - seen_from).num_milliseconds().max(0) as f64) / 1000.0;
    let finished = succeeded + failed;
    RatesView {
        minutes,
        covered_secs,
        succeeded,
        failed,
        retried,
        throughput_per_min: if covered_secs > 0.0 { finished as f64 * 60.0 / covered_secs } else { 0.0 },
        failure_rate: if finished > 0 { failed as f64 / finished as f64 } else { 0.0 },
        per_minute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodrobot_domain::task::TaskId;

    fn ev(state: TaskState, at: DateTime<Utc>) -> TaskEvent {
        TaskEvent {
            task_id: TaskId::generate(),
            name: "diag.noop".into(),
            queue: "default".into(),
            state,
            at,
            worker: None,
            runtime_s: None,
            wait_s: None,
            error_kind: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn finished_tasks_are_counted_per_minute() {
        let now = at("2030-01-01T10:09:30Z");
        let events = vec![
            ev(TaskState::Success, at("2030-01-01T10:09:10Z")),
            ev(TaskState::Failure, at("2030-01-01T10:08:50Z")),
            ev(TaskState::Started, at("2030-01-01T10:08:40Z")),
            ev(TaskState::Success, at("2030-01-01T10:00:05Z")),
            ev(TaskState::Success, at("2030-01-01T09:59:59Z")),
        ];
        let r = rates(&events, now, 10, false);
        assert_eq!((r.succeeded, r.failed), (2, 1));
        assert_eq!(r.per_minute.len(), 10);
        assert_eq!(r.per_minute[0].start, at("2030-01-01T10:00:00Z"));
        assert_eq!((r.per_minute[0].succeeded, r.per_minute[8].failed, r.per_minute[9].succeeded), (1, 1, 1));
    }

    #[test]
    fn the_failure_rate_is_failed_over_finished() {
        let now = at("2030-01-01T10:00:30Z");
        let events = vec![ev(TaskState::Failure, now), ev(TaskState::Success, now), ev(TaskState::Success, now)];
        let r = rates(&events, now, 1, false);
        assert!((r.failure_rate - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn throughput_is_per_minute_of_the_covered_time() {
        let now = at("2030-01-01T10:01:00Z");
        let events = vec![ev(TaskState::Success, now), ev(TaskState::Success, at("2030-01-01T10:00:00Z"))];
        // two minutes (10:00 and 10:01 so far): 2 tasks over 60 s covered
        let r = rates(&events, now, 2, false);
        assert_eq!(r.covered_secs, 60.0);
        assert_eq!(r.throughput_per_min, 2.0);
    }

    #[test]
    fn a_full_window_covers_only_the_time_since_its_oldest_event() {
        let now = at("2030-01-01T10:09:00Z");
        let events = vec![ev(TaskState::Success, now), ev(TaskState::Success, at("2030-01-01T10:08:30Z"))];
        let r = rates(&events, now, 10, true);
        assert_eq!(r.covered_secs, 30.0);
        assert_eq!(r.throughput_per_min, 4.0);
    }

    #[test]
    fn nothing_finished_means_zero_rates() {
        let r = rates(&[], at("2030-01-01T10:00:00Z"), 5, false);
        assert_eq!((r.throughput_per_min, r.failure_rate), (0.0, 0.0));
    }
}
