//! `Lenient<T>`: a path parameter whose parse failure the handler reports under the
//! parameter's own name (poem-openapi's errors call path parameters `param0`, `param1`, …).

use poem::http::StatusCode;
use poem_openapi::{
    registry::{MetaSchemaRef, Registry},
    types::{ParseFromParameter, ParseResult, Type},
};
use std::borrow::Cow;

use crate::problem::Problem;

/// A path parameter of type `T` (documented as `T`), or why it did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lenient<T>(Result<T, String>);

impl<T> Lenient<T> {
    /// The value, or a 400 `invalid_parameter` naming `name`.
    ///
    /// # Errors
    /// The parameter did not parse as a `T`.
    pub fn get(self, name: &str) -> Result<T, Problem> {
        self.0.map_err(|reason| {
            Problem::new(StatusCode::BAD_REQUEST, "invalid_parameter", format!("path `{name}`: {reason}"))
                .with_field(name)
        })
    }
}

impl<T: Type> Type for Lenient<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().ok().and_then(T::as_raw_value)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Ok(v) => v.raw_element_iter(),
            Err(_) => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ParseFromParameter> ParseFromParameter for Lenient<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(T::parse_from_parameter(value).map_err(|e| e.into_message())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_value_is_reported_under_the_given_name() {
        let p = Lenient::<i64>::parse_from_parameter("abc").unwrap().get("order_id").unwrap_err();
        assert_eq!((p.status(), p.body().field.as_deref()), (StatusCode::BAD_REQUEST, Some("order_id")));
        assert_eq!(Lenient::<i64>::parse_from_parameter("7").unwrap().get("id").unwrap(), 7);
    }
}
