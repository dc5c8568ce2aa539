//! Errors as RFC 9457 problem details (`application/problem+json`) in the one style of the
//! GoodRobot HTTP services: `type` = `urn:goodrobot:problem:<code>`, a stable `code`, a
//! `title` per code, an opaque body for a 5xx whose cause is logged, never returned.
//!
//! A service names itself with a [`Service`] (the titles of its own codes, the responses its
//! operations document, the poem errors it converts its own way) and answers with
//! `Problem<ItsService>`. The mapping of the ports' errors and of the errors poem raises, the
//! response and the OpenAPI registration are here, once.

mod convert;
mod response;

use goodrobot_domain::ValidationError;
use poem::http::StatusCode;
use poem_openapi::Object;
use std::{fmt, marker::PhantomData};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What a service adds to the shared style.
pub trait Service: fmt::Debug + Clone + PartialEq + Eq + Send + Sync + 'static {
    /// The schema's description of `code`, naming a few of the service's codes.
    const CODE_DOC: &'static str;
    /// Whether a 422 lists every invalid field in `errors` (and the schema documents `errors`).
    const FIELD_ERRORS: bool;
    /// The error responses every operation documents: status and description.
    const RESPONSES: &'static [(u16, &'static str)];

    /// The title of one of the service's own codes; `None` for a shared code's title, or else
    /// the status's reason phrase.
    fn title(code: &str) -> Option<&'static str>;

    /// A poem error the service converts its own way, or `None` for the shared conversion.
    /// Asked after the parse errors, unknown routes and methods; before any other 5xx (logged
    /// and opaque) and the rest (named after the status).
    fn from_poem(err: &poem::Error) -> Option<Problem<Self>> {
        let _ = err;
        None
    }
}

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
    /// A stable, machine-readable code (described per service: [`Service::CODE_DOC`]).
    pub code: String,
    /// The request field at fault, when there is one.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
    /// Every invalid field, when the request had several.
    #[oai(skip_serializing_if_is_empty)]
    pub errors: Vec<FieldError>,
}

/// An error response of the service `S`: a status and a problem body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}: {}", .status.as_u16(), .body.code, .body.detail)]
pub struct Problem<S> {
    status: StatusCode,
    body: Box<ProblemBody>,
    /// The `WWW-Authenticate` challenge of a 401.
    challenge: Option<&'static str>,
    service: PhantomData<S>,
}

/// The detail of every opaque 5xx.
const OPAQUE_DETAIL: &str = "the server could not handle this request";

fn title_of<S: Service>(code: &str, status: StatusCode) -> String {
    let shared = match code {
        "validation_failed" => Some("The request is invalid"),
        "invalid_parameter" => Some("A path or query parameter is invalid"),
        "not_found" => Some("Not found"),
        "conflict" => Some("Conflicts with the current state"),
        "unavailable" => Some("A dependency is unavailable"),
        "internal" => Some("Internal error"),
        _ => None,
    };
    let title = S::title(code).or(shared);
    title.unwrap_or_else(|| status.canonical_reason().unwrap_or("Error")).to_owned()
}

impl<S: Service> Problem<S> {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            body: Box::new(ProblemBody {
                kind: format!("urn:goodrobot:problem:{code}"),
                title: title_of::<S>(code, status),
                status: status.as_u16(),
                detail: detail.into(),
                code: code.to_owned(),
                field: None,
                errors: Vec::new(),
            }),
            challenge: None,
            service: PhantomData,
        }
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.body.field = Some(field.into());
        self
    }

    /// Sends this `WWW-Authenticate` challenge (for a 401).
    pub fn with_challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// 422 for one or more invalid fields; `field` names the first, and `errors` lists them
    /// all where the service lists field errors.
    pub fn invalid(errors: Vec<ValidationError>) -> Self {
        let detail = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        let mut p = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", detail);
        p.body.field = errors.first().map(|e| e.field.clone());
        if S::FIELD_ERRORS {
            p.body.errors = errors.into_iter().map(|e| FieldError { field: e.field, reason: e.reason }).collect();
        }
        p
    }

    /// 503, logging the cause (never returned).
    pub fn unavailable(cause: &dyn fmt::Display) -> Self {
        tracing::warn!(%cause, "a dependency is unavailable");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "a dependency is unavailable; try again shortly")
    }

    /// 500, logging the cause (never returned).
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::opaque(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// A server error that says nothing of its cause.
    pub fn opaque(status: StatusCode) -> Self {
        Self::new(status, "internal", OPAQUE_DETAIL)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn body(&self) -> &ProblemBody {
        &self.body
    }
}

#[cfg(test)]
mod tests;
