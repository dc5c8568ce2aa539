//! Errors as RFC 9457 problem details (`application/problem+json`), in the API's style (see
//! [`goodrobot_problem`], which maps the ports' errors and the errors poem raises): the
//! monitor's own codes and their titles, and its documented error responses.

use goodrobot_problem::Service;
use poem::http::StatusCode;

pub use goodrobot_problem::{PROBLEM_JSON, ProblemBody};

/// The monitor as a [`Service`] of problem details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monitor;

/// An error response of the monitor: a status and a problem body.
pub type Problem = goodrobot_problem::Problem<Monitor>;

impl Service for Monitor {
    const CODE_DOC: &'static str =
        "A stable, machine-readable code (`unauthenticated`, `csrf_failed`, `not_found`, …).";
    const FIELD_ERRORS: bool = false;
    const RESPONSES: &'static [(u16, &'static str)] = &[
        (400, "A parameter cannot be parsed"),
        (401, "No live session: log in at /login"),
        (403, "The X-CSRF-Token header is missing or wrong (actions only)"),
        (404, "Not found"),
        (409, "Conflicts with the current state"),
        (422, "A field is invalid (named by `field`)"),
        (500, "Internal error"),
        (503, "A dependency is unavailable"),
    ];

    fn title(code: &str) -> Option<&'static str> {
        Some(match code {
            "unauthenticated" => "Log in first",
            "csrf_failed" => "The CSRF token is missing or wrong",
            _ => return None,
        })
    }

    /// Any 5xx of poem's is a logged, opaque 500.
    fn from_poem(err: &poem::Error) -> Option<Problem> {
        err.status().is_server_error().then(|| Problem::internal(err))
    }
}

/// The monitor's own problems.
pub trait ProblemExt {
    /// 401: no live session.
    fn unauthenticated() -> Self;

    /// 403: an action without the session's CSRF token.
    fn csrf_failed() -> Self;
}

impl ProblemExt for Problem {
    fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in at /login; the session is missing or expired")
    }

    fn csrf_failed() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "send the session's CSRF token in the X-CSRF-Token header (or the csrf_token form field)",
        )
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, Problem>;

#[cfg(test)]
mod tests {
    use super::*;
    use goodrobot_ports::{MonitorError, services::AppError};
    use poem::{IntoResponse, http::header};

    #[test]
    fn app_errors_map_to_their_status() {
        let cases = [
            (AppError::NotFound { entity: "task", id: "x".into() }, 404, "not_found"),
            (AppError::Conflict { field: "task_id".into(), message: "done".into() }, 409, "conflict"),
            (AppError::Unavailable("redis down".into()), 503, "unavailable"),
            (AppError::Internal("boom".into()), 500, "internal"),
        ];
        for (e, status, code) in cases {
            let p = Problem::from(e);
            assert_eq!((p.status().as_u16(), p.body().code.as_str()), (status, code));
        }
    }

    #[test]
    fn an_unavailable_dependency_does_not_leak_its_cause() {
        let p = Problem::from(MonitorError::Unavailable("redis://:secret@host".into()));
        assert!(!p.body().detail.contains("secret"));
    }

    #[test]
    fn the_response_is_problem_json() {
        let resp = Problem::unauthenticated().into_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.headers().get(header::CONTENT_TYPE).unwrap(), PROBLEM_JSON);
    }
}
