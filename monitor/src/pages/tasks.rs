//! The task list page: filters, a page of tasks, paging. The script refreshes the rows from
//! `/api/tasks` (same query) every 2 seconds.

use goodrobot_domain::task::TaskState;
use maud::{Markup, html};
use poem::{
    Response, handler,
    http::StatusCode,
    web::{Data, Query},
};

use crate::{
    auth::Authed,
    model::{TaskPageView, TaskRow},
    pages::layout::{Nav, error_page, html_response, page, percent_encode, secs, state_badge, time},
    problem::Problem,
    read::task_index::{RawFilter, list},
    state::MonitorState,
};

/// The query string of `raw` at page `page` (empty values left out).
pub fn query_string(raw: &RawFilter, page: Option<u32>) -> String {
    let page = page.map(|p| p.to_string());
    let pairs = [
        ("state", raw.state.as_ref()),
        ("name", raw.name.as_ref()),
        ("queue", raw.queue.as_ref()),
        ("worker", raw.worker.as_ref()),
        ("since", raw.since.as_ref()),
        ("until", raw.until.as_ref()),
        ("q", raw.q.as_ref()),
        ("per_page", raw.per_page.as_ref()),
        ("page", page.as_ref()),
    ];
    pairs
        .iter()
        .filter_map(|(k, v)| v.filter(|v| !v.trim().is_empty()).map(|v| format!("{k}={}", percent_encode(v.trim()))))
        .collect::<Vec<_>>()
        .join("&")
}

/// A short preview of a task's arguments.
pub fn args_preview(v: &serde_json::Value) -> String {
    let s = if v.is_null() { String::new() } else { v.to_string() };
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s }
}

/// One row of the table (the script builds the same cells).
pub fn task_row(t: &TaskRow) -> Markup {
    html! {
        tr data-task=(t.task_id) data-state=(TaskState::from(t.state).as_str()) {
            td.mono { a href={ "/tasks/" (t.task_id) } { (t.task_id) } }
            td { (t.name) }
            td { (state_badge(t.state)) }
            td { (t.queue) }
            td { (t.worker.as_deref().unwrap_or("—")) }
            td { (time(Some(t.last_event_at))) }
            td { (secs(t.runtime)) }
            td { (t.retries) }
            td.mono.args { (args_preview(&t.args)) }
        }
    }
}

fn filters(raw: &RawFilter) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let current = raw.state.as_deref().map(str::to_ascii_uppercase).unwrap_or_default();
    html! {
        form.filters #filters method="get" action="/tasks" {
            label { "State"
                select name="state" {
                    option value="" { "any" }
                    @for s in TaskState::ALL { option value=(s.as_str()) selected[current == s.as_str()] { (s.as_str()) } }
                }
            }
            label { "Name" input type="text" name="name" value=(v(&raw.name)) placeholder="diag.noop"; }
            label { "Queue" input type="text" name="queue" value=(v(&raw.queue)); }
            label { "Worker" input type="text" name="worker" value=(v(&raw.worker)); }
            label { "Since" input type="text" name="since" value=(v(&raw.since)) placeholder="15m or RFC 3339"; }
            label { "Until" input type="text" name="until" value=(v(&raw.until)); }
            label { "Search" input type="search" name="q" value=(v(&raw.q)) placeholder="in id, args, result, error"; }
            button type="submit" { "Filter" }
            a href="/tasks" { "Clear" }
        }
    }
}

fn pager(raw: &RawFilter, p: &TaskPageView) -> Markup {
    let pages = p.total.div_ceil(u64::from(p.per_page)).max(1);
    html! {
        nav.pager #pager {
            @if p.page > 1 { a #prev href={ "/tasks?" (query_string(raw, Some(p.page - 1))) } { "← Newer" } }
            span #page-info { "Page " (p.page) " of " (pages) " · " (p.total) " tasks (" (p.scanned) " in the event window)" }
            @if u64::from(p.page) < pages { a #next href={ "/tasks?" (query_string(raw, Some(p.page + 1))) } { "Older →" } }
        }
    }
}

fn content(raw: &RawFilter, p: &TaskPageView) -> Markup {
    html! {
        h1 { "Tasks" }
        (filters(raw))
        table #tasks {
            thead { tr { th { "Task" } th { "Name" } th { "State" } th { "Queue" } th { "Worker" } th { "Last activity" } th { "Runtime" } th { "Retries" } th { "Arguments" } } }
            tbody {
                @if p.items.is_empty() { tr.empty { td colspan="9" { "No task matches." } } }
                @for t in &p.items { (task_row(t)) }
            }
        }
        (pager(raw, p))
    }
}

/// `GET /tasks`.
#[handler]
pub async fn tasks_page(state: Data<&MonitorState>, authed: Data<&Authed>, raw: Query<RawFilter>) -> Response {
    let result = async {
        let (filter, page_no, per_page) = raw.parse(state.deps.clock.now()).map_err(Problem::from)?;
        list(&state, &filter, page_no, per_page).await
    }
    .await;
    match result {
        Ok(p) => {
            let poll = format!("/api/tasks?{}", query_string(&raw, Some(p.page)));
            html_response(
                StatusCode::OK,
                page("Tasks", Nav::Tasks, Some(&authed), "tasks", Some(&poll), content(&raw, &p)),
            )
        }
        Err(p) => error_page(p.status(), &p.body().title, &p.body().detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_string_keeps_filters_and_sets_the_page() {
        let raw = RawFilter { state: Some("FAILURE".into()), q: Some("a b".into()), ..Default::default() };
        assert_eq!(query_string(&raw, Some(2)), "state=FAILURE&q=a%20b&page=2");
    }

    #[test]
    fn a_long_argument_list_is_cut() {
        let v = serde_json::json!({"message": "x".repeat(100)});
        assert!(args_preview(&v).ends_with('…'));
    }
}
