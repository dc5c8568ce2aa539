//! The one mapping from the ports' errors, and from the errors poem itself raises (unparsable
//! path or query parameters, unknown routes, …), to problems.

use crate::{Problem, Service};
use goodrobot_domain::{DomainError, ValidationError};
use goodrobot_ports::{BrokerError, MonitorError, ResultError, SessionError, services::AppError};
use poem::{
    error::{MethodNotAllowedError, NotFoundError},
    http::StatusCode,
};
use poem_openapi::error::{ParseParamError, ParsePathError, ParseRequestPayloadError};

impl<S: Service> Problem<S> {
    /// Converts an error that poem or poem-openapi raised (or one of ours, passed through).
    pub fn from_poem(err: &poem::Error) -> Self {
        if let Some(p) = err.downcast_ref::<Self>() {
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
        if let Some(p) = S::from_poem(err) {
            return p;
        }
        let status = err.status();
        if status.is_server_error() {
            tracing::error!(error = %err, status = status.as_u16(), "request failed");
            return Self::opaque(status);
        }
        let code = status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace(' ', "_");
        Self::new(status, &code, err.to_string())
    }
}

impl<S: Service> From<ValidationError> for Problem<S> {
    fn from(e: ValidationError) -> Self {
        Self::invalid(vec![e])
    }
}

/// The one mapping from a use case's failure to an HTTP response.
impl<S: Service> From<AppError> for Problem<S> {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(v) => v.into(),
            AppError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            AppError::Rule(d) => {
                // A rule about what the request named is the request's fault; the rest are
                // conflicts with the current state.
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
            AppError::Unavailable(cause) => Self::unavailable(&cause),
            AppError::Internal(cause) => Self::internal(&cause),
        }
    }
}

impl<S: Service> From<BrokerError> for Problem<S> {
    fn from(e: BrokerError) -> Self {
        AppError::from(e).into()
    }
}

impl<S: Service> From<ResultError> for Problem<S> {
    fn from(e: ResultError) -> Self {
        AppError::from(e).into()
    }
}

impl<S: Service> From<MonitorError> for Problem<S> {
    fn from(e: MonitorError) -> Self {
        match e {
            MonitorError::Unavailable(cause) => Self::unavailable(&cause),
        }
    }
}

impl<S: Service> From<SessionError> for Problem<S> {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Unavailable(cause) => Self::unavailable(&cause),
            SessionError::Invalid(cause) => Self::internal(&cause),
        }
    }
}
