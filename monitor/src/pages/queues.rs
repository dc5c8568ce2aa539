//! Purging a queue, in two steps: a page that shows what would go and asks for the queue's
//! name, then the purge itself.

use maud::html;
use poem::{
    Response, handler,
    http::{StatusCode, header},
    web::{Data, Form, Path},
};
use serde::Deserialize;

use crate::{
    actions,
    auth::Authed,
    pages::layout::{Nav, error_page, html_response, page, percent_encode},
    state::MonitorState,
};

#[derive(Debug, Deserialize)]
pub struct PurgeForm {
    confirm: Option<String>,
}

/// `GET /queues/{queue}/purge`: the confirmation step.
#[handler]
pub async fn purge_confirm(state: Data<&MonitorState>, authed: Data<&Authed>, queue: Path<String>) -> Response {
    let stats = match actions::configured_queue(&state, &queue) {
        Ok(q) => state.deps.broker.stats(&q).await.map_err(crate::problem::Problem::from),
        Err(p) => Err(p),
    };
    let s = match stats {
        Ok(s) => s,
        Err(p) => return error_page(p.status(), &p.body().title, &p.body().detail),
    };
    let body = html! {
        section.confirm {
            h1 { "Purge queue " (s.queue) "?" }
            p { "This removes its " strong { (s.ready) " ready" } " and " strong { (s.delayed) " delayed" }
                " tasks for good. Running (" (s.in_flight) ") and dead-lettered (" (s.dead) ") tasks stay." }
            form #purge-form method="post" action={ "/queues/" (percent_encode(&s.queue)) "/purge" } {
                input type="hidden" name="csrf_token" value=(authed.csrf);
                label { "Type the queue's name to confirm" input #confirm type="text" name="confirm" autocomplete="off" required; }
                button #purge.danger type="submit" { "Purge " (s.queue) }
                " " a href="/" { "Cancel" }
            }
        }
    };
    html_response(StatusCode::OK, page("Purge", Nav::Overview, Some(&authed), "purge", None, body))
}

/// `POST /queues/{queue}/purge` (behind the guard, with the CSRF field).
#[handler]
pub async fn purge_submit(state: Data<&MonitorState>, queue: Path<String>, form: Form<PurgeForm>) -> Response {
    match actions::purge(&state, &queue, form.confirm.as_deref().map(str::trim)).await {
        Ok(_) => Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, "/?done=purged").finish(),
        Err(p) => error_page(p.status(), &p.body().title, &p.body().detail),
    }
}
