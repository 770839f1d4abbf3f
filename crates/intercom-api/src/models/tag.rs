//! Tags.

use serde::{Deserialize, Serialize};

use super::{Extra, de};

/// A tag.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Tag {
    /// `tag`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Tag id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// Name (case-insensitive at Intercom).
    #[serde(default)]
    pub name: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tag as applied to a contact or conversation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct AppliedTag {
    /// The tag.
    #[serde(flatten)]
    pub tag: Tag,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub applied_at: Option<i64>,
    /// Who applied it (`{type, id}`).
    #[serde(default)]
    pub applied_by: Option<serde_json::Value>,
}

/// `GET /tags`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct TagList {
    /// `list` or `tag.list`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The tags (sent as `data`, or `tags` by older versions).
    #[serde(default, alias = "tags")]
    pub data: Vec<Tag>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}
