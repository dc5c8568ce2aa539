//! Celery-style `args` + `kwargs` into one JSON object of named arguments, and its parsing.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::ValidationError;

/// Names the positional `args` by the task's argument names and merges them with `kwargs`.
///
/// # Errors
/// More positional arguments than names (`args`), an argument given twice or unknown
/// (`kwargs.<name>`).
pub fn normalize_args(
    arg_names: &[&str],
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Result<Value, ValidationError> {
    if args.len() > arg_names.len() {
        return Err(ValidationError::new(
            "args",
            format!(
                "takes at most {} positional arguments ({}), {} given",
                arg_names.len(),
                arg_names.join(", "),
                args.len()
            ),
        ));
    }
    let mut out = Map::new();
    for (name, v) in arg_names.iter().zip(args) {
        out.insert((*name).to_owned(), v.clone());
    }
    for (k, v) in kwargs {
        if !arg_names.contains(&k.as_str()) {
            return Err(ValidationError::new(
                format!("kwargs.{k}"),
                format!("unknown argument; expected one of {}", arg_names.join(", ")),
            ));
        }
        if out.insert(k.clone(), v.clone()).is_some() {
            return Err(ValidationError::new(format!("kwargs.{k}"), "given both positionally and by name"));
        }
    }
    Ok(Value::Object(out))
}

/// Parses named arguments into a task's typed arguments, naming the field that is wrong.
///
/// # Errors
/// A missing, ill-typed or invalid argument, with its path (e.g. `args.price`).
pub fn parse_args<T: DeserializeOwned>(v: &Value) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde reports "missing field `x`" at the parent: name the field itself.
        if let Some(missing) = inner.strip_prefix("missing field `").and_then(|s| s.strip_suffix('`')) {
            return ValidationError::new(format!("args.{missing}"), "is required");
        }
        let field = if path == "." { "args".to_owned() } else { format!("args.{path}") };
        ValidationError::new(field, inner)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positional_args_are_named_in_order() {
        let v = normalize_args(&["a", "b"], &[json!(1)], json!({"b": 2}).as_object().unwrap()).unwrap();
        assert_eq!(v, json!({"a": 1, "b": 2}));
    }

    #[test]
    fn too_many_duplicate_and_unknown_arguments_are_refused() {
        let none = Map::new();
        assert_eq!(normalize_args(&["a"], &[json!(1), json!(2)], &none).unwrap_err().field, "args");
        let kw = json!({"a": 2});
        assert_eq!(normalize_args(&["a"], &[json!(1)], kw.as_object().unwrap()).unwrap_err().field, "kwargs.a");
        let kw = json!({"zzz": 2});
        assert_eq!(normalize_args(&["a"], &[], kw.as_object().unwrap()).unwrap_err().field, "kwargs.zzz");
    }

    #[test]
    fn parse_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct A {
            x: i64,
            y: String,
        }
        let e = parse_args::<A>(&json!({"x": "no", "y": "s"})).unwrap_err();
        assert_eq!(e.field, "args.x");
        let e = parse_args::<A>(&json!({"x": 1})).unwrap_err();
        assert_eq!(e.field, "args.y");
    }
}
