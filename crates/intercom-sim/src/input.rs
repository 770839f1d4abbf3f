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

fn wrong_type(key: &str, expected: &str) -> ApiError {
    ApiError::invalid(format!("{key} must be {expected}")).with_field(key)
}

/// A string field.
pub fn string(obj: &Map<String, Value>, key: &str) -> Result<Field<String>, ApiError> {
    match obj.get(key) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::String(s)) => Ok(Field::Set(s.clone())),
        Some(_) => Err(wrong_type(key, "a string")),
    }
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
    match obj.get(key) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::Number(n)) => n.as_i64().map(Field::Set).ok_or_else(|| wrong_type(key, "an integer")),
        Some(_) => Err(wrong_type(key, "an integer")),
    }
}

/// A numeric field.
pub fn number(obj: &Map<String, Value>, key: &str) -> Result<Field<f64>, ApiError> {
    match obj.get(key) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::Number(n)) => n.as_f64().map(Field::Set).ok_or_else(|| wrong_type(key, "a number")),
        Some(_) => Err(wrong_type(key, "a number")),
    }
}

/// A boolean field.
pub fn boolean(obj: &Map<String, Value>, key: &str) -> Result<Field<bool>, ApiError> {
    match obj.get(key) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::Bool(b)) => Ok(Field::Set(*b)),
        Some(_) => Err(wrong_type(key, "a boolean")),
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
