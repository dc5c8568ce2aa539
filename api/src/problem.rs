//! Errors as RFC 9457 problem details (`application/problem+json`): the one mapping from
//! [`AppError`] to an HTTP status, and the conversion of the errors poem itself raises
//! (unparsable path or query parameters, wrong content type, unknown routes).

use goodrobot_domain::{DomainError, ValidationError};
use goodrobot_ports::services::AppError;
use poem::{
    IntoResponse, Response,
    error::{MethodNotAllowedError, NotFoundError, ResponseError},
    http::{HeaderValue, StatusCode, header},
};
use poem_openapi::{
    ApiResponse, Object,
    error::{ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError},
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::{ToJSON, Type},
};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// How long a client should wait before retrying after a 503, in seconds.
const RETRY_AFTER_SECS: &str = "1";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct FieldError {
    /// The field, as a path in the request (`price`, `params.from`, `args.bid_id`).
    pub field: String,
    /// Why it is invalid.
    pub reason: String,
}

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
    /// A stable, machine-readable code (`validation_failed`, `order_not_open`, …).
    pub code: String,
    /// The request field at fault, when there is one.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
    /// Every invalid field, when the request had several.
    #[oai(skip_serializing_if_is_empty)]
    pub errors: Vec<FieldError>,
}

/// An error response: a status and a problem body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}: {}", .status.as_u16(), .body.code, .body.detail)]
pub struct Problem {
    status: StatusCode,
    body: Box<ProblemBody>,
    /// The `WWW-Authenticate` challenge of a 401.
    challenge: Option<&'static str>,
}

fn title_of(code: &str, status: StatusCode) -> String {
    let t = match code {
        "validation_failed" => "The request is invalid",
        "malformed_json" => "The body is not valid JSON",
        "invalid_parameter" => "A path or query parameter is invalid",
        "not_found" => "Not found",
        "conflict" => "Conflicts with the current state",
        "unavailable" => "A dependency is unavailable",
        "internal" => "Internal error",
        "unauthorized" => "A valid API key is required",
        "forbidden" => "The API key's role may not do this",
        "not_owner" => "The acting user does not own this",
        "acting_user_required" => "The acting user is not named",
        "payload_too_large" => "The body is too large",
        "too_deep" => "The JSON is nested too deeply",
        "rate_limited" => "Too many requests",
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
                errors: Vec::new(),
            }),
            challenge: None,
        }
    }

    /// 401 `unauthorized` with a `WWW-Authenticate: Bearer` challenge (RFC 6750), saying
    /// `invalid_token` when a key was presented but is not valid.
    pub fn unauthorized(detail: impl Into<String>, invalid_token: bool) -> Self {
        let mut p = Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail);
        p.challenge = Some(if invalid_token {
            r#"Bearer realm="goodrobot", error="invalid_token""#
        } else {
            r#"Bearer realm="goodrobot""#
        });
        p
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the body may be at most {limit} bytes"))
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    /// 422 for one or more invalid fields; `field` names the first.
    pub fn invalid(errors: Vec<ValidationError>) -> Self {
        let detail = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        let mut p = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", detail);
        p.body.field = errors.first().map(|e| e.field.clone());
        p.body.errors = errors.into_iter().map(|e| FieldError { field: e.field, reason: e.reason }).collect();
        p
    }

    /// For a use case about a user named by a request field (`client_id`, `master_id`):
    /// a wrong role or an inactive user is that field's fault.
    pub fn user_field(mut self, field: &str) -> Self {
        if matches!(self.body.code.as_str(), "wrong_role" | "inactive_user") && self.body.field.is_none() {
            self.body.field = Some(field.to_owned());
        }
        self
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
        if let Some(e) = err.downcast_ref::<ContentTypeError>() {
            let detail = format!("{e}; send application/json");
            return Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail);
        }
        if err.is::<NotFoundError>() {
            return Self::new(StatusCode::NOT_FOUND, "route_not_found", "no such route");
        }
        if err.is::<MethodNotAllowedError>() {
            return Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route");
        }
        let status = err.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::payload_too_large(crate::body::MAX_BODY_BYTES);
        }
        if status.is_server_error() {
            tracing::error!(error = %err, status = status.as_u16(), "request failed");
            return Self::new(status, "internal", "the server could not handle this request");
        }
        let code = status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace(' ', "_");
        Self::new(status, &code, err.to_string())
    }
}

impl From<ValidationError> for Problem {
    fn from(e: ValidationError) -> Self {
        Self::invalid(vec![e])
    }
}

/// The one mapping from a use case's failure to an HTTP response.
impl From<AppError> for Problem {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(v) => v.into(),
            AppError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            AppError::Rule(d) => {
                let status = match d {
                    DomainError::NotTheBidsMaster { .. }
                    | DomainError::WrongRole { .. }
                    | DomainError::InactiveUser { .. }
                    | DomainError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::CONFLICT,
                };
                let p = Self::new(status, d.code(), d.to_string());
                match d {
                    DomainError::NotTheBidsMaster { .. } => p.with_field("master_id"),
                    DomainError::Invalid(v) => p.with_field(v.field),
                    _ => p,
                }
            }
            AppError::Conflict { field, message } => {
                Self::new(StatusCode::CONFLICT, "conflict", format!("{field}: {message}")).with_field(field)
            }
            AppError::Unavailable(cause) => {
                tracing::warn!(%cause, "a dependency is unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a dependency is unavailable; try again shortly",
                )
            }
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server could not handle this request")
            }
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
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        if let Some(challenge) = self.challenge {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
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

/// The body of every error, whatever raised it: the catch-all error handler of the app.
pub async fn render_error(err: poem::Error) -> Response {
    let mut resp = Problem::from_poem(&err).into_response();
    // The matched route and operation outlive the error, for the request metrics.
    if let Some(pattern) = err.data::<poem::PathPattern>() {
        resp.set_data(pattern.clone());
    }
    if let Some(operation) = err.data::<poem_openapi::OperationId>() {
        resp.set_data(*operation);
    }
    resp
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
    use goodrobot_domain::{BidId, OrderId, OrderStatus, UserId};

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
