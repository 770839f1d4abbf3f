//! Request input: JSON bodies and typed field access with Intercom's 400 answers.

use serde_json::{Map, Value};

use crate::errors::ApiError;

/// Parses a JSON request body; an empty body counts as `{}` (Intercom accepts body-less POSTs).
pub fn json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid(format!("There was a problem in the JSON you submitted: {e}")))
}

/// The body as a JSON object, or 400.
pub fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object().ok_or_else(|| ApiError::invalid("The request body must be a JSON object"))
}

/// A field that may be absent, explicitly null, or set.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    /// Not in the body: leave unchanged.
    Absent,
    /// `null`: clear.
    Null,
    /// A value.
    Set(T),
}

impl<T> Field<T> {
    /// `Some(new value)` when the field was present (null or set), for updates.
    pub fn update(self) -> Option<Option<T>> {
        match self {
            Field::Absent => None,
            Field::Null => Some(None),
            Field::Set(v) => Some(Some(v)),
        }
    }

    /// The value when set.
    pub fn set(self) -> Option<T> {
        match self {
            Field::Set(v) => Some(v),
            _ => None,
        }
    }
}

/// A field read with `read`, which accepts the JSON values of the field's type; any other value
/// is a 400 saying the field must be `expected`.
fn field<T>(
    obj: &Map<String, Value>,
    key: &str,
    expected: &str,
    read: impl FnOnce(&Value) -> Option<T>,
) -> Result<Field<T>, ApiError> {
    match obj.get(key) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        Some(value) => read(value)
            .map(Field::Set)
            .ok_or_else(|| ApiError::invalid(format!("{key} must be {expected}")).with_field(key)),
    }
}

/// A string field.
pub fn string(obj: &Map<String, Value>, key: &str) -> Result<Field<String>, ApiError> {
    field(obj, key, "a string", |v| v.as_str().map(str::to_owned))
}

/// A string or number field, read as a string (ids are often sent as numbers).
pub fn id_string(obj: &Map<String, Value>, key: &str) -> Result<Field<String>, ApiError> {
    match obj.get(key) {
        Some(Value::Number(n)) => Ok(Field::Set(n.to_string())),
        _ => string(obj, key),
    }
}

/// An integer field (integral JSON numbers only).
pub fn integer(obj: &Map<String, Value>, key: &str) -> Result<Field<i64>, ApiError> {
    field(obj, key, "an integer", Value::as_i64)
}

/// A numeric field.
pub fn number(obj: &Map<String, Value>, key: &str) -> Result<Field<f64>, ApiError> {
    field(obj, key, "a number", Value::as_f64)
}

/// A boolean field.
pub fn boolean(obj: &Map<String, Value>, key: &str) -> Result<Field<bool>, ApiError> {
    field(obj, key, "a boolean", Value::as_bool)
}

/// One of the typed field readers above.
type Reader<T> = fn(&Map<String, Value>, &str) -> Result<Field<T>, ApiError>;

/// Intercom's 400 for a required parameter that is absent, null or empty.
pub fn missing(key: &str) -> ApiError {
    ApiError::missing(format!("'{key}' is a required parameter")).with_field(key)
}

/// A required field read with `read` (one of the readers above): absent or null is [`missing`].
pub fn required<T>(obj: &Map<String, Value>, key: &str, read: Reader<T>) -> Result<T, ApiError> {
    read(obj, key)?.set().ok_or_else(|| missing(key))
}

/// Applies a request's `custom_attributes` to the stored ones: `null` removes an attribute, any
/// other value sets it, and attributes the request leaves out stay as they are.
pub fn merge_custom_attributes(stored: &mut Map<String, Value>, changes: &Map<String, Value>) {
    for (k, v) in changes {
        if v.is_null() {
            stored.remove(k);
        } else {
            stored.insert(k.clone(), v.clone());
        }
    }
}

/// A query-string parameter parsed as an unsigned integer in `1..=max`.
pub fn query_u32(query: &[(String, String)], key: &str, default: u32, max: u32) -> Result<u32, ApiError> {
    match query_str(query, key) {
        None => Ok(default),
        Some(raw) => {
            match raw.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid(format!("{key} must be an integer between 1 and {max}"))
                    .with_field(key)),
            }
        }
    }
}

/// A query-string parameter.
pub fn query_str<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Splits and percent-decodes a raw query string.
pub fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    let Some(raw) = raw else { return Vec::new() };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (as space) in a URL component.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_components() {
        let q = parse_query(Some("starting_after=WzEsMl0%3D&name=Blue+Sun&x=%zz&email=a%40b.io"));
        assert_eq!(query_str(&q, "starting_after"), Some("WzEsMl0="));
        assert_eq!(query_str(&q, "name"), Some("Blue Sun"));
        assert_eq!(query_str(&q, "x"), Some("%zz"));
        assert_eq!(query_str(&q, "email"), Some("a@b.io"));
    }

    #[test]
    fn invalid_json_is_parameter_invalid() {
        let e = json_body(b"{nope").unwrap_err();
        assert_eq!(e.code, "parameter_invalid");
        assert_eq!(json_body(b"").expect("empty is {}"), Value::Object(Map::new()));
    }
}
