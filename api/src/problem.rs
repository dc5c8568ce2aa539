//! Errors as RFC 9457 problem details (`application/problem+json`), in the style of
//! [`goodrobot_problem`] (which maps [`AppError`](goodrobot_ports::services::AppError) and the
//! errors poem raises): the API's own codes and their titles, its documented error responses,
//! the list of every invalid field of a 422, and [`Checks`] to collect them.

use goodrobot_domain::ValidationError;
use goodrobot_problem::Service;
use poem::http::StatusCode;
use poem_openapi::error::ContentTypeError;

pub use goodrobot_problem::{FieldError, PROBLEM_JSON, ProblemBody};

/// The API as a [`Service`] of problem details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api;

/// An error response of the API: a status and a problem body.
pub type Problem = goodrobot_problem::Problem<Api>;

impl Service for Api {
    const CODE_DOC: &'static str = "A stable, machine-readable code (`validation_failed`, `order_not_open`, …).";
    const FIELD_ERRORS: bool = true;
    const RESPONSES: &'static [(u16, &'static str)] = &[
        (400, "A parameter or the body cannot be parsed, or the JSON is nested too deeply (`too_deep`)"),
        (401, "No valid API key (`unauthorized`)"),
        (403, "The key's role may not do this (`forbidden`), or the acting user does not own it (`not_owner`)"),
        (404, "Not found"),
        (409, "Conflicts with the current state"),
        (413, "The body is too large"),
        (415, "The body is not JSON"),
        (422, "A field is invalid (named by `field`)"),
        (429, "Too many requests (`rate_limited`, with `Retry-After`)"),
        (500, "Internal error"),
        (503, "A dependency is unavailable"),
    ];

    fn title(code: &str) -> Option<&'static str> {
        Some(match code {
            "malformed_json" => "The body is not valid JSON",
            "unauthorized" => "A valid API key is required",
            "forbidden" => "The API key's role may not do this",
            "not_owner" => "The acting user does not own this",
            "acting_user_required" => "The acting user is not named",
            "payload_too_large" => "The body is too large",
            "too_deep" => "The JSON is nested too deeply",
            "rate_limited" => "Too many requests",
            _ => return None,
        })
    }

    /// A body that is not JSON, and one over the size limit.
    fn from_poem(err: &poem::Error) -> Option<Problem> {
        if let Some(e) = err.downcast_ref::<ContentTypeError>() {
            let detail = format!("{e}; send application/json");
            return Some(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail));
        }
        (err.status() == StatusCode::PAYLOAD_TOO_LARGE).then(|| Problem::payload_too_large(crate::body::MAX_BODY_BYTES))
    }
}

/// The API's own problems.
pub trait ProblemExt {
    /// 401 `unauthorized` with a `WWW-Authenticate: Bearer` challenge (RFC 6750), saying
    /// `invalid_token` when a key was presented but is not valid.
    fn unauthorized(detail: impl Into<String>, invalid_token: bool) -> Self;

    /// 413 `payload_too_large`.
    fn payload_too_large(limit: usize) -> Self;

    /// For a use case about a user named by a request field (`client_id`, `master_id`):
    /// a wrong role or an inactive user is that field's fault.
    fn user_field(self, field: &str) -> Self;
}

impl ProblemExt for Problem {
    fn unauthorized(detail: impl Into<String>, invalid_token: bool) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).with_challenge(if invalid_token {
            r#"Bearer realm="goodrobot", error="invalid_token""#
        } else {
            r#"Bearer realm="goodrobot""#
        })
    }

    fn payload_too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the body may be at most {limit} bytes"))
    }

    fn user_field(self, field: &str) -> Self {
        let body = self.body();
        if matches!(body.code.as_str(), "wrong_role" | "inactive_user") && body.field.is_none() {
            return self.with_field(field);
        }
        self
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, Problem>;

/// Collects the validation errors of a request so one response names every bad field.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<ValidationError>,
}

impl Checks {
    /// Keeps the value, or notes the error and returns `None`.
    pub fn check<T>(&mut self, r: Result<T, ValidationError>) -> Option<T> {
        r.map_err(|e| self.errors.push(e)).ok()
    }

    /// Like [`Self::check`], naming the field under `prefix` (e.g. `params.`).
    pub fn check_in<T>(&mut self, prefix: &str, r: Result<T, ValidationError>) -> Option<T> {
        self.check(r.map_err(|e| ValidationError::new(format!("{prefix}{}", e.field), e.reason)))
    }

    /// The 422 for the errors seen (call when a checked value came back `None`).
    pub fn problem(self) -> Problem {
        if self.errors.is_empty() {
            return Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "the request is invalid");
        }
        Problem::invalid(self.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodrobot_domain::{BidId, DomainError, OrderId, OrderStatus, UserId};
    use goodrobot_ports::services::AppError;
    use poem::{IntoResponse, http::header};

    #[test]
    fn every_app_error_kind_has_its_status() {
        let cases = [
            (AppError::Invalid(ValidationError::new("price", "bad")), 422, "validation_failed"),
            (AppError::NotFound { entity: "user", id: "1".into() }, 404, "not_found"),
            (
                AppError::Rule(DomainError::OrderNotOpen { order_id: OrderId(1), status: OrderStatus::Done }),
                409,
                "order_not_open",
            ),
            (AppError::Conflict { field: "tg_id".into(), message: "taken".into() }, 409, "conflict"),
            (AppError::Unavailable("db down".into()), 503, "unavailable"),
            (AppError::Internal("boom".into()), 500, "internal"),
        ];
        for (e, status, code) in cases {
            let p = Problem::from(e);
            assert_eq!((p.status().as_u16(), p.body().code.as_str()), (status, code));
        }
    }

    #[test]
    fn not_the_bids_master_is_a_422_on_master_id() {
        let p = Problem::from(AppError::Rule(DomainError::NotTheBidsMaster {
            bid_id: BidId(1),
            given: UserId(2),
            actual: UserId(3),
        }));
        assert_eq!(p.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(p.body().field.as_deref(), Some("master_id"));
        assert_eq!(p.body().code, "not_the_bids_master");
    }

    #[test]
    fn an_internal_error_does_not_leak_its_cause() {
        let p = Problem::from(AppError::Internal("password=hunter2 in connection string".into()));
        assert!(!p.body().detail.contains("hunter2"));
    }

    #[test]
    fn the_response_is_problem_json() {
        let resp = Problem::from(ValidationError::new("phone", "bad")).into_response();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(resp.headers().get(header::CONTENT_TYPE).unwrap(), PROBLEM_JSON);
    }
}
