//! A task's page (arguments, result or error, retries, timeline, parent and children,
//! worker) and its actions: revoke, replay from the dead-letter list, retry as a new task.
//! The script reloads the page when `/api/tasks/{id}` shows the task changed.

use chrono::SecondsFormat;
use goodrobot_domain::task::TaskId;
use maud::{Markup, html};
use poem::{
    Response, handler,
    http::{StatusCode, header},
    web::{Data, Path, Query},
};

use crate::{
    actions,
    auth::Authed,
    model::{TaskDetailView, TaskLink},
    pages::{
        layout::{Nav, error_page, flash_message, html_response, json, page, secs, state_badge, time},
        overview::Flash,
    },
    problem::Problem,
    read::task_detail::detail,
    state::MonitorState,
};

fn link(l: &TaskLink) -> Markup {
    html! {
        li {
            a.mono href={ "/tasks/" (l.task_id) } { (l.task_id) }
            " " (l.name.as_deref().unwrap_or("(record expired)"))
            @if let Some(s) = l.state { " " (state_badge(s)) }
        }
    }
}

fn action(csrf: &str, id: &str, name: &str, label: &str, class: &str) -> Markup {
    html! {
        form.action method="post" action={ "/tasks/" (id) "/" (name) } {
            input type="hidden" name="csrf_token" value=(csrf);
            button id={ "action-" (name) } class=(class) type="submit" { (label) }
        }
    }
}

fn content(t: &TaskDetailView, csrf: &str, flash: Option<&str>) -> Markup {
    html! {
        @if let Some(f) = flash { p.flash #flash { (f) } }
        h1 #task data-updated=(t.updated_at.to_rfc3339_opts(SecondsFormat::Micros, true)) {
            (t.name) " " span #task-state { (state_badge(t.state)) }
        }
        p.mono #task-id { (t.task_id) }
        div.actions {
            @if t.can_revoke { (action(csrf, &t.task_id, "revoke", "Revoke", "danger")) }
            @if t.can_replay { (action(csrf, &t.task_id, "replay", "Replay from dead letters", "")) }
            @if t.can_retry { (action(csrf, &t.task_id, "retry", "Retry as a new task", "")) }
        }
        dl.facts {
            dt { "Queue" } dd { (t.queue) }
            dt { "Worker" } dd { (t.worker.as_deref().unwrap_or("—")) }
            dt { "Retries" } dd #retries { (t.retries) " of " (t.max_retries) }
            dt { "Attempts" } dd { (t.attempts) }
            dt { "Created" } dd { (time(Some(t.created_at))) }
            dt { "ETA" } dd { (time(t.eta)) }
            dt { "Expires" } dd { (time(t.expires)) }
            dt { "Received" } dd { (time(t.received_at)) }
            dt { "Started" } dd { (time(t.started_at)) }
            dt { "Finished" } dd { (time(t.finished_at)) }
            dt { "Runtime" } dd { (secs(t.runtime)) }
        }
        h2 { "Arguments" }
        pre #args { (json(&t.args)) }
        @if let Some(r) = &t.result { h2 { "Result" } pre #result { (json(r)) } }
        @if let Some(e) = &t.error { h2 { "Error" } pre #error { (e.kind) ": " (e.message) } }
        @if let Some(p) = &t.progress { h2 { "Progress" } pre { (json(p)) } }
        h2 { "Timeline" }
        table #timeline {
            thead { tr { th { "State" } th { "At" } th { "Worker" } th { "Wait" } th { "Runtime" } th { "Error" } } }
            tbody {
                @for e in &t.timeline {
                    tr {
                        td { (state_badge(e.state)) } td { (time(Some(e.at))) }
                        td { (e.worker.as_deref().unwrap_or("—")) } td { (secs(e.wait_s)) } td { (secs(e.runtime_s)) }
                        td { (e.error_kind.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        @if let Some(p) = &t.parent { h2 { "Parent" } ul { (link(p)) } }
        @if !t.children.is_empty() { h2 { "Children" } ul #children { @for c in &t.children { (link(c)) } } }
    }
}

fn parse_id(raw: &str) -> Result<TaskId, Problem> {
    TaskId::parse(raw).map_err(Problem::from)
}

fn problem_page(p: &Problem) -> Response {
    error_page(p.status(), &p.body().title, &p.body().detail)
}

/// `GET /tasks/{id}`.
#[handler]
pub async fn task_page(
    state: Data<&MonitorState>,
    authed: Data<&Authed>,
    id: Path<String>,
    q: Query<Flash>,
) -> Response {
    let view = match parse_id(&id) {
        Ok(id) => detail(&state, id).await,
        Err(p) => Err(p),
    };
    match view {
        Ok(t) => {
            let poll = format!("/api/tasks/{}", t.task_id);
            let flash = q.done_code().and_then(flash_message);
            let markup =
                page(&t.name, Nav::Tasks, Some(&authed), "task", Some(&poll), content(&t, &authed.csrf, flash));
            html_response(StatusCode::OK, markup)
        }
        Err(p) => problem_page(&p),
    }
}

fn see_other(to: String) -> Response {
    Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, to).finish()
}

/// `POST /tasks/{id}/{action}` (behind the guard, with the CSRF field).
#[handler]
pub async fn task_action(state: Data<&MonitorState>, path: Path<(String, String)>) -> Response {
    let (raw_id, name) = path.0;
    let id = match parse_id(&raw_id) {
        Ok(id) => id,
        Err(p) => return problem_page(&p),
    };
    let done = match name.as_str() {
        "revoke" => actions::revoke(&state, id).await,
        "replay" => actions::replay(&state, id).await,
        "retry" => actions::retry(&state, id).await,
        _ => return error_page(StatusCode::NOT_FOUND, "Not found", "No such action."),
    };
    match done {
        Ok(a) => {
            let target = a.new_task_id.unwrap_or(a.task_id);
            see_other(format!("/tasks/{target}?done={}", a.action))
        }
        Err(p) => problem_page(&p),
    }
}
