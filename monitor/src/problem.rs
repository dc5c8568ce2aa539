//! Errors as RFC 9457 problem details (`application/problem+json`), in the API's style:
//! `type` = `urn:goodrobot:problem:<code>`, a stable `code`, an opaque body for a 500.

use goodrobot_domain::ValidationError;
use goodrobot_ports::{BrokerError, MonitorError, ResultError, SessionError, services::AppError};
use poem::{
    IntoResponse, Response,
    error::{MethodNotAllowedError, NotFoundError, ResponseError},
    http::{HeaderValue, StatusCode, header},
};
use poem_openapi::{
    ApiResponse, Object,
    error::{ParseParamError, ParsePathError, ParseRequestPayloadError},
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::{ToJSON, Type},
};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details body.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Problem")]
pub struct ProblemBody {
    /// A URI naming the kind of problem (`urn:goodrobot:problem:<code>`).
    #[oai(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// A stable, machine-readable code (`unauthenticated`, `csrf_failed`, `not_found`, …).
    pub code: String,
    /// The request field at fault, when there is one.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
}

/// An error response: a status and a problem body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}: {}", .status.as_u16(), .body.code, .body.detail)]
pub struct Problem {
    status: StatusCode,
    body: Box<ProblemBody>,
}

fn title_of(code: &str, status: StatusCode) -> String {
    let t = match code {
        "unauthenticated" => "Log in first",
        "csrf_failed" => "The CSRF token is missing or wrong",
        "validation_failed" => "The request is invalid",
        "invalid_parameter" => "A path or query parameter is invalid",
        "not_found" => "Not found",
        "conflict" => "Conflicts with the current state",
        "unavailable" => "A dependency is unavailable",
        "internal" => "Internal error",
        _ => return status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    t.to_owned()
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            body: Box::new(ProblemBody {
                kind: format!("urn:goodrobot:problem:{code}"),
                title: title_of(code, status),
                status: status.as_u16(),
                detail: detail.into(),
                code: code.to_owned(),
                field: None,
            }),
        }
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    /// 401: no live session.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in at /login; the session is missing or expired")
    }

    /// 403: an action without the session's CSRF token.
    pub fn csrf_failed() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "send the session's CSRF token in the X-CSRF-Token header (or the csrf_token form field)",
        )
    }

    /// 503, logging the cause (never returned).
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(%cause, "a dependency is unavailable");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "a dependency is unavailable; try again shortly")
    }

    /// 500, logging the cause (never returned).
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server could not handle this request")
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn body(&self) -> &ProblemBody {
        &self.body
    }

    /// Converts an error that poem or poem-openapi raised (or one of ours, passed through).
    pub fn from_poem(err: &poem::Error) -> Self {
        if let Some(p) = err.downcast_ref::<Problem>() {
            return p.clone();
        }
        if let Some(e) = err.downcast_ref::<ParsePathError>() {
            return Self::new(StatusCode::BAD_REQUEST, "invalid_parameter", format!("path `{}`: {}", e.name, e.reason))
                .with_field(e.name);
        }
        if let Some(e) = err.downcast_ref::<ParseParamError>() {
            return Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                format!("parameter `{}`: {}", e.name, e.reason),
            )
            .with_field(e.name);
        }
        if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
            return Self::new(StatusCode::BAD_REQUEST, "malformed_body", e.reason.clone());
        }
        if err.is::<NotFoundError>() {
            return Self::new(StatusCode::NOT_FOUND, "route_not_found", "no such route");
        }
        if err.is::<MethodNotAllowedError>() {
            return Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route");
        }
        let status = err.status();
        if status.is_server_error() {
            return Self::internal(err);
        }
        let code = status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace(' ', "_");
        Self::new(status, &code, err.to_string())
    }
}

impl From<ValidationError> for Problem {
    fn from(e: ValidationError) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", e.to_string()).with_field(e.field)
    }
}

/// The one mapping from a use case's failure to an HTTP response.
impl From<AppError> for Problem {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(v) => v.into(),
            AppError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            AppError::Conflict { field, message } => {
                Self::new(StatusCode::CONFLICT, "conflict", format!("{field}: {message}")).with_field(field)
            }
            AppError::Rule(d) => Self::new(StatusCode::CONFLICT, d.code(), d.to_string()),
            AppError::Unavailable(cause) => Self::unavailable(&cause),
            AppError::Internal(cause) => Self::internal(&cause),
        }
    }
}

impl From<BrokerError> for Problem {
    fn from(e: BrokerError) -> Self {
        AppError::from(e).into()
    }
}

impl From<ResultError> for Problem {
    fn from(e: ResultError) -> Self {
        AppError::from(e).into()
    }
}

impl From<MonitorError> for Problem {
    fn from(e: MonitorError) -> Self {
        match e {
            MonitorError::Unavailable(cause) => Self::unavailable(&cause),
        }
    }
}

impl From<SessionError> for Problem {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Unavailable(cause) => Self::unavailable(&cause),
            SessionError::Invalid(cause) => Self::internal(&cause),
        }
    }
}

impl ResponseError for Problem {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let body = self.body.to_json().map(|v| v.to_string()).unwrap_or_default();
        let mut resp = Response::builder().status(self.status).content_type(PROBLEM_JSON).body(body);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        self.as_response()
    }
}

/// Documents the error responses of an operation (every one uses the same body).
impl ApiResponse for Problem {
    fn meta() -> MetaResponses {
        let responses = [
            (400, "A parameter cannot be parsed"),
            (401, "No live session: log in at /login"),
            (403, "The X-CSRF-Token header is missing or wrong (actions only)"),
            (404, "Not found"),
            (409, "Conflicts with the current state"),
            (422, "A field is invalid (named by `field`)"),
            (500, "Internal error"),
            (503, "A dependency is unavailable"),
        ]
        .into_iter()
        .map(|(status, description)| MetaResponse {
            description,
            status: Some(status),
            status_range: None,
            content: vec![MetaMediaType { content_type: PROBLEM_JSON, schema: ProblemBody::schema_ref() }],
            headers: vec![],
        })
        .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        ProblemBody::register(registry);
    }
}

/// The body of every error of the JSON API and the open endpoints, whatever raised it.
pub async fn render_error(err: poem::Error) -> Response {
    Problem::from_poem(&err).into_response()
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, Problem>;

#[cfg(test)]
mod tests {
    use super::*;

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
