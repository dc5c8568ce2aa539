//! A problem as a poem response, and as the documented error responses of an operation.

use crate::{FieldError, PROBLEM_JSON, Problem, ProblemBody, Service};
use poem::{
    IntoResponse, Response,
    error::ResponseError,
    http::{HeaderValue, StatusCode, header},
};
use poem_openapi::{
    ApiResponse,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry},
    types::{ToJSON, Type},
};
use std::any::Any;

/// How long a client should wait before retrying after a 503, in seconds.
const RETRY_AFTER_SECS: &str = "1";

impl<S: Service> ResponseError for Problem<S> {
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

impl<S: Service> IntoResponse for Problem<S> {
    fn into_response(self) -> Response {
        self.as_response()
    }
}

/// Documents the error responses of an operation (every one uses the same body).
impl<S: Service> ApiResponse for Problem<S> {
    fn meta() -> MetaResponses {
        let responses = S::RESPONSES
            .iter()
            .map(|&(status, description)| MetaResponse {
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
        if S::FIELD_ERRORS {
            FieldError::register(registry);
        }
        registry.create_schema::<ProblemBody, _>(ProblemBody::name().into_owned(), |_| body_schema::<S>());
    }
}

/// The body's schema as derived, with the service's description of `code`, and without
/// `errors` for a service that never lists field errors.
fn body_schema<S: Service>() -> MetaSchema {
    let mut scratch = Registry::new();
    ProblemBody::register(&mut scratch);
    let mut schema = scratch.schemas.remove(ProblemBody::name().as_ref()).expect("the body registers its schema");
    if !S::FIELD_ERRORS {
        schema.properties.retain(|(name, _)| *name != "errors");
        schema.required.retain(|name| *name != "errors");
    }
    for (name, property) in &mut schema.properties {
        if let ("code", MetaSchemaRef::Inline(code)) = (*name, property) {
            code.description = Some(S::CODE_DOC);
        }
    }
    schema
}

impl<S: Service> Problem<S> {
    /// The body of every error, whatever raised it: the catch-all error handler of an app.
    pub async fn render_error(err: poem::Error) -> Response {
        let mut resp = Self::from_poem(&err).into_response();
        // The matched route and operation outlive the error, for the request metrics.
        if let Some(pattern) = err.data::<poem::PathPattern>() {
            resp.set_data(pattern.clone());
        }
        if let Some(operation) = err.data::<poem_openapi::OperationId>() {
            resp.set_data(*operation);
        }
        resp
    }

    /// A handler that panicked (poem's `CatchPanic` handler): logged, and an opaque 500 like
    /// any other internal error.
    pub fn render_panic(panic: Box<dyn Any + Send>) -> Response {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %message, "a handler panicked");
        Self::opaque(StatusCode::INTERNAL_SERVER_ERROR).into_response()
    }
}
