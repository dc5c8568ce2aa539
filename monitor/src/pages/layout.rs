//! The frame of every page (navigation, the CSRF token for the script, the stylesheet and
//! script files — no inline script or style, so the CSP can forbid them) and small
//! formatting helpers.

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, html};
use poem::{Response, http::StatusCode};

use crate::{auth::Authed, model::StateDto};

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Tasks,
    None,
}

/// A full page. `page` names it for the script (`data-page`), `poll` is the JSON the script
/// polls to keep it live.
pub fn page(title: &str, nav: Nav, authed: Option<&Authed>, page: &str, poll: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(a) = authed { meta name="csrf-token" content=(a.csrf); }
                title { (title) " · GoodRobot monitor" }
                link rel="stylesheet" href="/static/monitor.css";
                script src="/static/monitor.js" defer {}
            }
            body data-page=(page) data-poll=[poll] {
                header.top {
                    a.brand href="/" { "GoodRobot monitor" }
                    @if authed.is_some() {
                        nav {
                            a href="/" class=[(nav == Nav::Overview).then_some("current")] { "Overview" }
                            a href="/tasks" class=[(nav == Nav::Tasks).then_some("current")] { "Tasks" }
                        }
                        span.live #live title="Refreshed every 2 seconds" { "live" }
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf_token" value=(authed.map(|a| a.csrf.as_str()).unwrap_or_default());
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// An HTML response.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    Response::builder().status(status).content_type("text/html; charset=utf-8").body(markup.into_string())
}

/// A page that says what went wrong.
pub fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = html! {
        section.error {
            h1 { (status.as_u16()) " · " (title) }
            p { (detail) }
            p { a href="/" { "Back to the overview" } }
        }
    };
    html_response(status, page(title, Nav::None, None, "error", None, body))
}

/// The message of an action that was carried out (`?done=<code>` after a redirect).
pub fn flash_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "revoked" => "The task is revoked.",
        "replayed" => "The task left the dead-letter list and is queued again.",
        "retried" => "A new task with the same arguments is queued.",
        "purged" => "The queue is purged.",
        _ => return None,
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters and `/`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An instant as the pages show it (UTC, seconds) inside a `<time>` the script can make
/// relative.
pub fn time(t: Option<DateTime<Utc>>) -> Markup {
    match t {
        None => html! { span.muted { "—" } },
        Some(t) => {
            let iso = t.to_rfc3339_opts(SecondsFormat::Millis, true);
            html! { time datetime=(iso) { (t.format("%Y-%m-%d %H:%M:%S")) } }
        }
    }
}

/// Seconds, shortly.
pub fn secs(s: Option<f64>) -> String {
    match s {
        None => "—".into(),
        Some(s) if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        Some(s) if s < 120.0 => format!("{s:.2} s"),
        Some(s) if s < 7200.0 => format!("{:.1} min", s / 60.0),
        Some(s) => format!("{:.1} h", s / 3600.0),
    }
}

/// A task state as a coloured badge.
pub fn state_badge(s: StateDto) -> Markup {
    let name = goodrobot_domain::task::TaskState::from(s).as_str();
    html! { span class={ "state state-" (name.to_ascii_lowercase()) } { (name) } }
}

/// JSON, indented.
pub fn json(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_paths_and_escapes_queries() {
        assert_eq!(percent_encode("/tasks?state=FAILURE&q=a b"), "/tasks%3Fstate%3DFAILURE%26q%3Da%20b");
    }

    #[test]
    fn markup_escapes_what_it_is_given() {
        let m = error_page(StatusCode::NOT_FOUND, "<script>", "x");
        let body = futures::executor::block_on(m.into_body().into_string()).unwrap();
        assert!(body.contains("&lt;script&gt;") && !body.contains("<script>x"), "{body}");
    }

    #[test]
    fn the_page_loads_its_script_from_a_file_and_has_no_inline_script() {
        let body = page("t", Nav::None, None, "p", None, html! {}).into_string();
        assert!(body.contains(r#"<script src="/static/monitor.js" defer></script>"#), "{body}");
        assert_eq!(body.matches("<script").count(), 1);
    }
}
