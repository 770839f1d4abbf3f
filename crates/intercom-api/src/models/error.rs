//! Intercom's `error.list` envelope.

use serde::{Deserialize, Serialize};

use super::Extra;

/// The body of every Intercom 4xx/5xx answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ErrorList {
    /// `error.list`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Intercom's id of the request (a UUID); `null` or absent on some answers.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The errors.
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One error of an [`ErrorList`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ErrorItem {
    /// The code, e.g. `parameter_invalid`; legacy answers send it as `type`, which is accepted too.
    #[serde(default, alias = "type")]
    pub code: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// The offending request field, when Intercom names one.
    #[serde(default)]
    pub field: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_null_request_id_and_legacy_type() {
        let e: ErrorList = serde_json::from_str(
            r#"{"type":"error.list","request_id":null,"errors":[{"type":"not_found","message":"User Not Found"}]}"#,
        )
        .expect("decodes");
        assert_eq!(e.request_id, None);
        assert_eq!(e.errors[0].code, "not_found");
        assert_eq!(e.errors[0].field, None);
    }
}
