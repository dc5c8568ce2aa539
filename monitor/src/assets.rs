//! The page script and stylesheet, compiled into the binary (works offline, no build step).

use poem::{Response, handler, http::header};

const SCRIPT: &str = include_str!("../assets/monitor.js");
const STYLESHEET: &str = include_str!("../assets/monitor.css");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    Response::builder().content_type(content_type).header(header::CACHE_CONTROL, "public, max-age=300").body(body)
}

/// `GET /static/monitor.js`.
#[handler]
pub fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /static/monitor.css`.
#[handler]
pub fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}
