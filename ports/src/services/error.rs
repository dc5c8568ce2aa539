//! The error every use case returns: one place that tells what kind of failure it is.

use goodrobot_domain::{DomainError, ValidationError};

use crate::{BrokerError, CacheError, RepoError, ResultError};

/// A use case's failure, by kind (the API maps each kind to one HTTP status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// Bad input: which field and why (422).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The thing asked for does not exist (404).
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// The request is valid but breaks a rule in the current state (409).
    #[error(transparent)]
    Rule(DomainError),
    /// A unique value is taken (409).
    #[error("{field} conflicts with an existing record: {message}")]
    Conflict { field: String, message: String },
    /// A dependency is down; the same request may succeed later (503).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected state (500); the message is for the log, not the client.
    #[error("{0}")]
    Internal(String),
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(v) => Self::Invalid(v),
            other => Self::Rule(other),
        }
    }
}

impl From<RepoError> for AppError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound { entity, id } => Self::NotFound { entity, id },
            RepoError::Conflict { field, message } => Self::Conflict { field, message },
            RepoError::Domain(d) => d.into(),
            RepoError::Unavailable(m) => Self::Unavailable(format!("database unavailable: {m}")),
            RepoError::Internal(m) => Self::Internal(format!("database: {m}")),
        }
    }
}

impl From<BrokerError> for AppError {
    fn from(e: BrokerError) -> Self {
        match e {
            BrokerError::Unavailable(m) => Self::Unavailable(format!("broker unavailable: {m}")),
            BrokerError::NotFound(id) => Self::NotFound { entity: "task", id: id.to_string() },
            BrokerError::LeaseLost(id) => Self::Internal(format!("lease of {id} lost")),
            BrokerError::Internal(m) => Self::Internal(format!("broker: {m}")),
        }
    }
}

impl From<ResultError> for AppError {
    fn from(e: ResultError) -> Self {
        match e {
            ResultError::Unavailable(m) => Self::Unavailable(format!("result backend unavailable: {m}")),
            ResultError::Internal(m) => Self::Internal(format!("result backend: {m}")),
        }
    }
}

impl From<CacheError> for AppError {
    fn from(e: CacheError) -> Self {
        Self::Unavailable(e.to_string())
    }
}
