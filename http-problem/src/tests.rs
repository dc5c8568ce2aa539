use super::*;
use goodrobot_ports::services::AppError;
use poem::{IntoResponse, Response, http::header};
use poem_openapi::{
    ApiResponse,
    registry::{MetaSchemaRef, Registry},
};
use serde_json::{Value, json};

/// A service that lists field errors and converts 418s its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listing;

impl Service for Listing {
    const CODE_DOC: &'static str = "listing codes";
    const FIELD_ERRORS: bool = true;
    const RESPONSES: &'static [(u16, &'static str)] = &[(404, "Not found"), (500, "Internal error")];

    fn title(code: &str) -> Option<&'static str> {
        (code == "teapot").then_some("Short and stout")
    }

    fn from_poem(err: &poem::Error) -> Option<Problem<Self>> {
        (err.status() == StatusCode::IM_A_TEAPOT)
            .then(|| Problem::new(StatusCode::IM_A_TEAPOT, "teapot", "tip me over"))
    }
}

/// A service with nothing of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plain;

impl Service for Plain {
    const CODE_DOC: &'static str = "plain codes";
    const FIELD_ERRORS: bool = false;
    const RESPONSES: &'static [(u16, &'static str)] = &[];

    fn title(_: &str) -> Option<&'static str> {
        None
    }
}

async fn render<S: Service>(p: Problem<S>) -> (Response, Value) {
    let mut resp = p.into_response();
    let body = resp.take_body().into_string().await.unwrap();
    (resp, serde_json::from_str(&body).unwrap())
}

#[tokio::test]
async fn the_body_has_the_rfc_9457_members_and_a_stable_code() {
    let (resp, body) = render(Problem::<Plain>::new(StatusCode::NOT_FOUND, "not_found", "user 7 not found")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    assert_eq!(
        body,
        json!({
            "type": "urn:goodrobot:problem:not_found",
            "title": "Not found",
            "status": 404,
            "detail": "user 7 not found",
            "code": "not_found",
        })
    );
}

#[tokio::test]
async fn field_and_field_errors_appear_only_when_there_are_some() {
    let errors = || vec![ValidationError::new("price", "negative"), ValidationError::new("note", "too long")];
    let (_, body) = render(Problem::<Listing>::invalid(errors())).await;
    assert_eq!(body["field"], "price");
    assert_eq!(body["detail"], "price: negative; note: too long");
    assert_eq!(
        body["errors"],
        json!([{"field": "price", "reason": "negative"}, {"field": "note", "reason": "too long"}])
    );

    let (resp, body) = render(Problem::<Plain>::invalid(errors())).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "price");
    assert!(body.get("errors").is_none(), "{body}");

    let (_, body) = render(Problem::<Listing>::new(StatusCode::CONFLICT, "conflict", "taken")).await;
    assert!(body.get("field").is_none() && body.get("errors").is_none(), "{body}");
}

#[test]
fn a_title_is_the_services_then_the_shared_one_then_the_reason_phrase() {
    let title = |code| Problem::<Listing>::new(StatusCode::IM_A_TEAPOT, code, "").body().title.clone();
    assert_eq!(title("teapot"), "Short and stout");
    assert_eq!(title("conflict"), "Conflicts with the current state");
    assert_eq!(title("something_else"), "I'm a teapot");
    assert_eq!(Problem::<Plain>::new(StatusCode::IM_A_TEAPOT, "teapot", "").body().title, "I'm a teapot");
}

#[tokio::test]
async fn a_server_error_is_opaque() {
    for p in [
        Problem::<Plain>::from(AppError::Internal("password=hunter2".into())),
        Problem::from_poem(&poem::Error::from_string("password=hunter2", StatusCode::BAD_GATEWAY)),
    ] {
        let (_, body) = render(p).await;
        assert_eq!(body["code"], "internal");
        assert_eq!(body["detail"], "the server could not handle this request");
        assert!(!body.to_string().contains("hunter2"), "{body}");
    }
}

#[tokio::test]
async fn a_503_says_when_to_retry_and_hides_its_cause() {
    let (resp, body) = render(Problem::<Plain>::from(AppError::Unavailable("redis://:secret@host".into()))).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
    assert!(!body.to_string().contains("secret"), "{body}");
}

#[test]
fn a_challenge_is_sent_as_www_authenticate() {
    let p = Problem::<Plain>::new(StatusCode::UNAUTHORIZED, "unauthorized", "").with_challenge(r#"Bearer realm="x""#);
    assert_eq!(p.into_response().headers()[header::WWW_AUTHENTICATE], r#"Bearer realm="x""#);
}

#[test]
fn poem_errors_are_converted_the_shared_way_unless_the_service_has_its_own() {
    let code = |e: poem::Error| Problem::<Listing>::from_poem(&e).body().code.clone();
    assert_eq!(code(poem::error::NotFoundError.into()), "route_not_found");
    assert_eq!(code(poem::error::MethodNotAllowedError.into()), "method_not_allowed");
    assert_eq!(code(poem::Error::from_status(StatusCode::IM_A_TEAPOT)), "teapot");
    assert_eq!(code(poem::Error::from_status(StatusCode::GONE)), "gone");
    let own = Problem::<Listing>::new(StatusCode::CONFLICT, "conflict", "kept").with_field("f");
    assert_eq!(Problem::from_poem(&own.clone().into()), own);
    let p =
        Problem::<Plain>::from_poem(&poem_openapi::error::ParsePathError { name: "id", reason: "bad".into() }.into());
    assert_eq!(
        (p.status(), p.body().code.as_str(), p.body().field.as_deref()),
        (StatusCode::BAD_REQUEST, "invalid_parameter", Some("id"))
    );
}

fn schema<S: Service>() -> Registry {
    let mut registry = Registry::new();
    Problem::<S>::register(&mut registry);
    registry
}

#[test]
fn the_schema_is_named_problem_and_documents_errors_only_where_listed() {
    let listing = schema::<Listing>();
    let body = &listing.schemas["Problem"];
    assert!(body.properties.iter().any(|(name, _)| *name == "errors"));
    assert!(listing.schemas.contains_key("FieldError"));

    let plain = schema::<Plain>();
    let body = &plain.schemas["Problem"];
    assert!(!body.properties.iter().any(|(name, _)| *name == "errors") && !body.required.contains(&"errors"));
    assert!(!plain.schemas.contains_key("FieldError"));
    let code = body.properties.iter().find(|(name, _)| *name == "code").map(|(_, s)| s);
    assert!(matches!(code, Some(MetaSchemaRef::Inline(s)) if s.description == Some("plain codes")));
}

#[test]
fn every_documented_response_is_problem_json() {
    let meta = Problem::<Listing>::meta();
    assert_eq!(meta.responses.iter().map(|r| r.status).collect::<Vec<_>>(), [Some(404), Some(500)]);
    assert!(meta.responses.iter().all(|r| r.content[0].content_type == PROBLEM_JSON));
}

#[tokio::test]
async fn a_panic_is_an_opaque_500() {
    let resp = Problem::<Plain>::render_panic(Box::new("index out of bounds"));
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = serde_json::from_str(&resp.into_body().into_string().await.unwrap()).unwrap();
    assert_eq!(body["code"], "internal");
}
