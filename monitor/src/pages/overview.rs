//! The overview page: workers online, queue depths, throughput and failure rate. The script
//! refreshes it from `/api/overview` every 2 seconds.

use maud::{Markup, html};
use poem::{
    Response, handler,
    http::StatusCode,
    web::{Data, Query},
};
use serde::Deserialize;

use crate::{
    auth::Authed,
    model::{OverviewView, RatesView},
    pages::layout::{Nav, error_page, flash_message, html_response, page, percent_encode, secs, time},
    read::overview::overview,
    state::MonitorState,
};

#[derive(Debug, Deserialize)]
pub struct Flash {
    done: Option<String>,
}

impl Flash {
    /// The action just carried out, if any.
    pub fn done_code(&self) -> Option<&str> {
        self.done.as_deref()
    }
}

/// The per-minute chart: one bar per minute, failures stacked on successes.
pub fn chart(r: &RatesView) -> Markup {
    let (w, h, gap) = (12u64, 80u64, 2u64);
    let max = r.per_minute.iter().map(|m| m.succeeded + m.failed).max().unwrap_or(0).max(1);
    let width = (w + gap) * r.per_minute.len() as u64;
    html! {
        svg #chart viewBox={ "0 0 " (width) " " (h) } width=(width * 3) height=(h * 2) role="img" aria-label="Tasks finished per minute" {
            @for (i, m) in r.per_minute.iter().enumerate() {
                @let x = i as u64 * (w + gap);
                @let ok = m.succeeded * h / max;
                @let bad = m.failed * h / max;
                rect.ok x=(x) y=(h - ok) width=(w) height=(ok) { title { (m.start.format("%H:%M")) ": " (m.succeeded) " succeeded" } }
                rect.bad x=(x) y=(h - ok - bad) width=(w) height=(bad) { title { (m.start.format("%H:%M")) ": " (m.failed) " failed" } }
            }
        }
    }
}

fn content(o: &OverviewView, flash: Option<&str>) -> Markup {
    html! {
        @if let Some(f) = flash { p.flash #flash { (f) } }
        section {
            h2 { "Workers online " span.count #workers-count { (o.workers.len()) } }
            table #workers {
                thead { tr { th { "Worker" } th { "Host" } th { "PID" } th { "Uptime" } th { "Concurrency" } th { "Running" } th { "Processed" } th { "Failed" } th { "Last heartbeat" } } }
                tbody {
                    @if o.workers.is_empty() { tr.empty { td colspan="9" { "No worker has sent a heartbeat recently." } } }
                    @for w in &o.workers {
                        tr data-worker=(w.id) data-processed=(w.processed) {
                            td { a href={ "/tasks?worker=" (percent_encode(&w.id)) } { (w.id) } }
                            td { (w.host) } td { (w.pid) } td { (secs(Some(w.uptime_secs as f64))) }
                            td { (w.concurrency) } td { (w.running) } td { (w.processed) } td { (w.failed) }
                            td { (time(Some(w.last_heartbeat))) }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Queues" }
            table #queues {
                thead { tr { th { "Queue" } th { "Ready" } th { "Delayed" } th { "In flight" } th { "Dead" } th {} } }
                tbody {
                    @for q in &o.queues {
                        tr data-queue=(q.queue) {
                            td { a href={ "/tasks?queue=" (percent_encode(&q.queue)) } { (q.queue) } }
                            td { (q.ready) } td { (q.delayed) } td { (q.in_flight) } td { (q.dead) }
                            td { a.danger href={ "/queues/" (percent_encode(&q.queue)) "/purge" } { "Purge…" } }
                        }
                    }
                }
            }
        }
        section #rates {
            h2 { "Last " (o.rates.minutes) " minutes" }
            p {
                "Throughput " strong #throughput { (format!("{:.1}", o.rates.throughput_per_min)) } " tasks/min · "
                "failure rate " strong #failure-rate { (format!("{:.1}", o.rates.failure_rate * 100.0)) "%" } " · "
                span #finished { (o.rates.succeeded) " succeeded, " (o.rates.failed) " failed, " (o.rates.retried) " retried" }
            }
            div #chart-box { (chart(&o.rates)) }
        }
    }
}

/// `GET /`.
#[handler]
pub async fn overview_page(state: Data<&MonitorState>, authed: Data<&Authed>, q: Query<Flash>) -> Response {
    match overview(&state).await {
        Ok(o) => {
            let flash = q.done_code().and_then(flash_message);
            let markup =
                page("Overview", Nav::Overview, Some(&authed), "overview", Some("/api/overview"), content(&o, flash));
            html_response(StatusCode::OK, markup)
        }
        Err(p) => error_page(p.status(), &p.body().title, &p.body().detail),
    }
}
