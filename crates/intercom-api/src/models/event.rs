//! Data events.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Extra, de};

/// The body of `POST /events`: an event name, a time and one contact identifier.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewEvent {
    /// Event name, e.g. `invited-friend`.
    pub event_name: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// The contact's external id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The contact's Intercom id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The contact's e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Up to 10 flat metadata keys.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

/// One event summary of `GET /events?summary=true`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct EventSummary {
    /// Event name.
    #[serde(default)]
    pub name: Option<String>,
    /// Epoch seconds of the first occurrence.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub first: Option<i64>,
    /// Epoch seconds of the last occurrence.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub last: Option<i64>,
    /// Occurrences.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub count: Option<i64>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET /events` answer (`event.summary` or `event.list`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct EventSummaryList {
    /// `event.summary` or `event.list`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The events.
    #[serde(default)]
    pub events: Vec<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}
