//! Request bodies: typed, `deny_unknown_fields` structs read through `serde_path_to_error`, so a
//! bad body is a 400 naming the field and the problem.

use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Reads a JSON body into `T`. Not JSON → `bad_json`; a field `T` does not have → `unknown_field`
/// naming it and the fields there are; a value of the wrong type → `invalid` at its path.
pub(super) fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request("bad_json", "", format!("not JSON: {inner}"));
        }
        let message = inner.to_string();
        let path = match e.path().to_string() {
            p if p == "." => String::new(),
            p => p,
        };
        if let Some(rest) = message.strip_prefix("unknown field `") {
            // "unknown field `x`, expected one of `a`, `b`" → unknown field "x" (expected a, b)
            let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
            let expected: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            // The path already ends at the unknown field.
            let field_path = if path.is_empty() { field.to_string() } else { path };
            return ApiError::bad_request("unknown_field", field_path, format!("unknown field {field:?} (expected {})", expected.join(", ")));
        }
        if let Some(rest) = message.strip_prefix("missing field `") {
            let field = rest.split('`').next().unwrap_or(rest);
            let field_path = if path.is_empty() { field.to_string() } else { format!("{path}.{field}") };
            return ApiError::bad_request("missing", field_path.clone(), format!("{field_path} is required"));
        }
        if path.is_empty() {
            // The body itself has the wrong shape (an array, a string).
            return ApiError::bad_request("bad_json", "", format!("the body must be a JSON object ({message})"));
        }
        let message = message.split(" at line ").next().unwrap_or(&message).to_string();
        ApiError::bad_request("invalid", path.clone(), format!("{path}: {message}"))
    })?;
    // Something after the object: not one JSON value.
    de.end().map_err(|e| ApiError::bad_request("bad_json", "", format!("not JSON: {e}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        printer: Option<String>,
        picklist: Option<bool>,
    }

    #[test]
    fn errors_name_the_field() {
        let e = json_body::<Body>(br#"{"printer": "dock-1", "colour": "red"}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("unknown_field", Some("colour")));
        assert_eq!(e.message, r#"unknown field "colour" (expected printer, picklist)"#);
        let e = json_body::<Body>(br#"{"picklist": "yes"}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("invalid", Some("picklist")));
        assert!(e.message.starts_with("picklist: invalid type"), "{}", e.message);
        let e = json_body::<Body>(b"{not json").unwrap_err();
        assert_eq!(e.code, "bad_json");
        let e = json_body::<Body>(br#""a string""#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("bad_json", Some("")));
        assert!(json_body::<Body>(br#"{"printer": null}"#).unwrap().printer.is_none());
    }
}
