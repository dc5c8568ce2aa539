//! `/metrics` in the Prometheus text exposition format (0.0.4): queue depths, workers online,
//! each worker's own counters, and task counts and histograms over the recent event window.
//!
//! The task counters count the state changes in the event window (`MONITOR_EVENT_WINDOW`
//! events); they grow with the work done and drop back only when old events leave the
//! window, which Prometheus's `rate()` treats like a counter reset.

use chrono::{DateTime, Utc};
use goodrobot_domain::task::TaskState;
use goodrobot_ports::TaskEvent;
use std::{collections::BTreeMap, fmt::Write};

use crate::model::{QueueView, WorkerView};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bucket bounds (seconds) of the runtime and wait histograms.
pub const BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// What a scrape reports.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    pub now: DateTime<Utc>,
    pub queues: &'a [QueueView],
    pub workers: &'a [WorkerView],
    /// Newest first.
    pub events: &'a [TaskEvent],
}

/// A label value, escaped as the text format requires.
fn esc(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A float as the text format writes it.
fn num(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{}\"}} {}", num(*b), self.counts[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", num(self.sum));
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Renders a scrape.
pub fn render(s: &Snapshot<'_>) -> String {
    let mut out = String::new();

    header(&mut out, "goodrobot_queue_depth", "gauge", "Tasks in a queue by kind: ready, delayed, in_flight, dead.");
    for q in s.queues {
        for (kind, v) in [("ready", q.ready), ("delayed", q.delayed), ("in_flight", q.in_flight), ("dead", q.dead)] {
            let _ = writeln!(out, "goodrobot_queue_depth{{queue=\"{}\",kind=\"{kind}\"}} {v}", esc(&q.queue));
        }
    }

    header(&mut out, "goodrobot_workers_online", "gauge", "Workers whose heartbeat has not expired.");
    let _ = writeln!(out, "goodrobot_workers_online {}", s.workers.len());

    header(&mut out, "goodrobot_worker_running_tasks", "gauge", "Tasks a worker runs now.");
    for w in s.workers {
        let _ = writeln!(out, "goodrobot_worker_running_tasks{{worker=\"{}\"}} {}", esc(&w.id), w.running);
    }
    header(&mut out, "goodrobot_worker_concurrency", "gauge", "Tasks a worker runs at once at most.");
    for w in s.workers {
        let _ = writeln!(out, "goodrobot_worker_concurrency{{worker=\"{}\"}} {}", esc(&w.id), w.concurrency);
    }
    header(
        &mut out,
        "goodrobot_worker_tasks_total",
        "counter",
        "Tasks a worker finished since it started, by outcome (succeeded, failed, retried).",
    );
    for w in s.workers {
        for (outcome, v) in [("succeeded", w.succeeded), ("failed", w.failed), ("retried", w.retried)] {
            let _ =
                writeln!(out, "goodrobot_worker_tasks_total{{worker=\"{}\",outcome=\"{outcome}\"}} {v}", esc(&w.id));
        }
    }

    let mut by_state: BTreeMap<(&str, &'static str), u64> = BTreeMap::new();
    let mut runtime: BTreeMap<&str, Histogram> = BTreeMap::new();
    let mut wait: BTreeMap<&str, Histogram> = BTreeMap::new();
    for e in s.events {
        *by_state.entry((e.name.as_str(), e.state.as_str())).or_default() += 1;
        if let Some(r) = e.runtime_s.filter(|_| e.state.is_terminal()) {
            runtime.entry(e.name.as_str()).or_default().observe(r);
        }
        if let Some(w) = e.wait_s.filter(|_| e.state == TaskState::Started) {
            wait.entry(e.name.as_str()).or_default().observe(w);
        }
    }
    header(
        &mut out,
        "goodrobot_tasks_total",
        "counter",
        "Task state changes in the recent event window, by task name and state.",
    );
    for ((name, state), v) in &by_state {
        let _ = writeln!(out, "goodrobot_tasks_total{{name=\"{}\",state=\"{state}\"}} {v}", esc(name));
    }
    header(
        &mut out,
        "goodrobot_task_runtime_seconds",
        "histogram",
        "Seconds from start to finish of the tasks in the recent event window.",
    );
    for (name, h) in &runtime {
        h.write(&mut out, "goodrobot_task_runtime_seconds", &format!("name=\"{}\"", esc(name)));
    }
    header(
        &mut out,
        "goodrobot_task_wait_seconds",
        "histogram",
        "Seconds from enqueue (or eta) to start of the tasks in the recent event window.",
    );
    for (name, h) in &wait {
        h.write(&mut out, "goodrobot_task_wait_seconds", &format!("name=\"{}\"", esc(name)));
    }

    header(&mut out, "goodrobot_monitor_event_window", "gauge", "Task events the task metrics are computed from.");
    let _ = writeln!(out, "goodrobot_monitor_event_window {}", s.events.len());
    header(
        &mut out,
        "goodrobot_monitor_event_window_age_seconds",
        "gauge",
        "Age of the oldest event in the window (0 when empty).",
    );
    let age = s.events.last().map(|e| (s.now - e.at).num_milliseconds().max(0) as f64 / 1000.0).unwrap_or(0.0);
    let _ = writeln!(out, "goodrobot_monitor_event_window_age_seconds {}", num(age));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn a_histogram_is_cumulative_and_ends_with_inf() {
        let mut h = Histogram::default();
        h.observe(0.02);
        h.observe(7.0);
        h.observe(1000.0);
        let mut out = String::new();
        h.write(&mut out, "x", "name=\"n\"");
        assert!(out.contains("x_bucket{name=\"n\",le=\"0.025\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{name=\"n\",le=\"10\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{name=\"n\",le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count{name=\"n\"} 3\n"), "{out}");
    }
}
