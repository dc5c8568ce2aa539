//! `JsonBody<T>`: a JSON request body parsed by serde, whose every failure names the field.
//!
//! poem-openapi's own `Json<T>` reports a wrong type or a missing field without saying which
//! field it was; this extractor keeps `T`'s OpenAPI schema but parses with
//! `serde_path_to_error`, so `{"price": "ten"}` is a 422 naming `price`.
//!
//! Limits: a body is at most [`MAX_BODY_BYTES`] (413 `payload_too_large`, refused from its
//! `Content-Length` before it is read, by [`BodyLimit`] for every route, or while reading a
//! body sent without one) and JSON nests at most [`MAX_JSON_DEPTH`] levels (400 `too_deep`,
//! checked before parsing).

use poem::{
    Endpoint, IntoResponse, Middleware, Request, RequestBody, Response,
    error::ReadBodyError,
    http::{StatusCode, header},
};
use poem_openapi::{
    impl_apirequest_for_payload,
    payload::{ParsePayload, Payload},
    registry::{MetaSchemaRef, Registry},
    types::Type,
};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::problem::{Problem, ProblemExt};

/// The largest request body read, in bytes (a task's arguments may be at most 64 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The deepest nesting of arrays and objects accepted in a JSON body.
pub const MAX_JSON_DEPTH: usize = 32;

/// A JSON request body of type `T` (documented with `T`'s schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        content_type.parse::<mime_ish::Mime>().is_ok_and(|m| m.is_json())
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + DeserializeOwned + Send> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        if declared_too_large(request) {
            return Err(Problem::payload_too_large(MAX_BODY_BYTES).into());
        }
        let data = body.take()?.into_bytes_limit(MAX_BODY_BYTES).await.map_err(|e| match e {
            ReadBodyError::PayloadTooLarge => Problem::payload_too_large(MAX_BODY_BYTES),
            other => Problem::new(StatusCode::BAD_REQUEST, "malformed_body", other.to_string()),
        })?;
        parse(&data).map(Self).map_err(Into::into)
    }
}

impl_apirequest_for_payload!(JsonBody<T>, T: Type + DeserializeOwned + Send);

/// Parses a JSON document into `T`, naming the field of the first error.
///
/// # Errors
/// 400 `malformed_json` for an empty body or bad syntax; 400 `too_deep` for nesting beyond
/// [`MAX_JSON_DEPTH`]; 422 `validation_failed` naming the field for a missing, unknown,
/// ill-typed or invalid field.
pub fn parse<T: DeserializeOwned>(data: &[u8]) -> Result<T, Problem> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "malformed_json", "the request needs a JSON body"));
    }
    if depth(data) > MAX_JSON_DEPTH {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "too_deep",
            format!("the JSON body nests more than {MAX_JSON_DEPTH} levels of arrays and objects"),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(data);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = without_position(&inner.to_string());
        match inner.classify() {
            Category::Data => {
                let field = field_of(&path, &message);
                goodrobot_domain::ValidationError::new(field, message).into()
            }
            Category::Syntax | Category::Eof | Category::Io => {
                Problem::new(StatusCode::BAD_REQUEST, "malformed_json", inner.to_string())
            }
        }
    })?;
    de.end().map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
    Ok(value)
}

/// The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not
/// count); linear, and stops early once past the limit. Malformed text is left to the parser.
fn depth(data: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in data {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
                if max > MAX_JSON_DEPTH {
                    return max;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The request says (`Content-Length`) that its body is larger than [`MAX_BODY_BYTES`].
fn declared_too_large(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
}

/// Refuses (413) any request whose `Content-Length` is over [`MAX_BODY_BYTES`] before its
/// body is read, whatever the route (a body sent without a length is cut off by [`JsonBody`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyLimit;

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint { inner: ep }
    }
}

#[derive(Debug)]
pub struct BodyLimitEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Self::Output> {
        if declared_too_large(&req) {
            return Ok(Problem::payload_too_large(MAX_BODY_BYTES).into_response());
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// serde_json appends " at line L column C" to its messages; the field says where.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The field a serde error is about: a missing field is reported at its parent.
fn field_of(path: &str, message: &str) -> String {
    let named = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    match (named, path) {
        (Some(name), "." | "") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, "." | "") => "body".to_owned(),
        (None, p) => p.to_owned(),
    }
}

/// Just enough media-type parsing to accept `application/json` and `application/*+json`
/// with parameters (`; charset=utf-8`).
mod mime_ish {
    #[derive(Debug)]
    pub struct Mime(String);

    impl std::str::FromStr for Mime {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let essence = s.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            if essence.is_empty() { Err(()) } else { Ok(Self(essence)) }
        }
    }

    impl Mime {
        pub fn is_json(&self) -> bool {
            self.0 == "application/json" || (self.0.starts_with("application/") && self.0.ends_with("+json"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        from: Option<chrono::DateTime<chrono::Utc>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        price: i64,
        params: Option<Inner>,
    }

    fn field(data: &str) -> Option<String> {
        parse::<Body>(data.as_bytes()).unwrap_err().body().field.clone()
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field(r#"{"price": "ten"}"#).as_deref(), Some("price"));
        assert_eq!(field(r#"{}"#).as_deref(), Some("price"));
        assert_eq!(field(r#"{"price": 1, "prise": 2}"#).as_deref(), Some("prise"));
        assert_eq!(field(r#"{"price": 1, "params": {"from": 3}}"#).as_deref(), Some("params.from"));
        assert_eq!(field(r#"{"price": 1, "params": {"form": 3}}"#).as_deref(), Some("params.form"));
    }

    #[test]
    fn bad_syntax_is_a_400() {
        let p = parse::<Body>(b"{\"price\": ").unwrap_err();
        assert_eq!((p.status(), p.body().code.as_str()), (StatusCode::BAD_REQUEST, "malformed_json"));
        assert_eq!(parse::<Body>(b"").unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert_eq!(parse::<Body>(b"{\"price\": 1} x").unwrap_err().status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn nesting_beyond_the_limit_is_a_400_too_deep() {
        let deep = format!("{}{}", "[".repeat(MAX_JSON_DEPTH + 1), "]".repeat(MAX_JSON_DEPTH + 1));
        let p = parse::<serde_json::Value>(deep.as_bytes()).unwrap_err();
        assert_eq!((p.status(), p.body().code.as_str()), (StatusCode::BAD_REQUEST, "too_deep"));
        let ok = format!("{}{}", "[".repeat(MAX_JSON_DEPTH), "]".repeat(MAX_JSON_DEPTH));
        assert!(parse::<serde_json::Value>(ok.as_bytes()).is_ok());
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_nesting() {
        let s = format!(r#"{{"a": "{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
        assert_eq!(depth(s.as_bytes()), 1);
        assert!(parse::<serde_json::Value>(s.as_bytes()).is_ok());
    }

    #[test]
    fn json_media_types_are_recognised() {
        assert!(JsonBody::<i64>::check_content_type("application/json; charset=utf-8"));
        assert!(JsonBody::<i64>::check_content_type("application/merge-patch+json"));
        assert!(!JsonBody::<i64>::check_content_type("text/plain"));
    }
}
