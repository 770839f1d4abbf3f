//! Data events: `POST /events` (202 with an empty body; 404 for an unknown user).

use serde_json::{Map, Value};

use crate::api::{ApiResult, Ctx, Reply};
use crate::errors::ApiError;
use crate::input;

/// Most metadata keys Intercom keeps per event; extra keys are dropped.
pub const MAX_METADATA_KEYS: usize = 10;

/// A stored data event.
#[derive(Debug, Clone, PartialEq)]
pub struct DataEvent {
    /// Event name.
    pub event_name: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// The contact it belongs to.
    pub contact_id: String,
    /// Metadata (at most 10 keys).
    pub metadata: Map<String, Value>,
}

/// The events of a workspace.
#[derive(Debug, Default)]
pub struct EventStore {
    events: Vec<DataEvent>,
}

impl EventStore {
    /// Events of one contact.
    pub fn for_contact<'a>(&'a self, contact_id: &'a str) -> impl Iterator<Item = &'a DataEvent> {
        self.events.iter().filter(move |e| e.contact_id == contact_id)
    }

    /// Number of stored events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// `POST /events` `{event_name, created_at, user_id | id | email, metadata}`.
pub fn create(ctx: &mut Ctx<'_>) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let event_name = input::string(obj, "event_name")?
        .set()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| input::missing("event_name"))?;
    let created_at = input::required(obj, "created_at", input::integer)?;
    let user_id = input::id_string(obj, "user_id")?.set();
    let id = input::id_string(obj, "id")?.set();
    let email = input::string(obj, "email")?.set();
    if user_id.is_none() && id.is_none() && email.is_none() {
        return Err(ApiError::missing("One of 'user_id', 'id' or 'email' is required to identify the user"));
    }
    let mut metadata = match obj.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(ApiError::invalid("metadata must be an object").with_field("metadata")),
    };
    if metadata.values().any(|v| matches!(v, Value::Array(_))) {
        return Err(ApiError::invalid("metadata values cannot be arrays: nested JSON is not supported")
            .with_field("metadata"));
    }
    if metadata.len() > MAX_METADATA_KEYS {
        let extra: Vec<String> = metadata.keys().skip(MAX_METADATA_KEYS).cloned().collect();
        for k in extra {
            metadata.remove(&k);
        }
    }
    let mut data = ctx.app.workspace.data.write();
    let contact_id = {
        let c = &data.contacts;
        let found = if let Some(id) = &id {
            c.get_live(id)
        } else if let Some(uid) = &user_id {
            c.by_external_id(uid)
        } else {
            email.as_deref().and_then(|e| c.by_email(e).next())
        };
        found.map(|c| c.id.clone()).ok_or_else(ApiError::contact_not_found)?
    };
    // Intercom silently accepts duplicates (same contact, name and time) without storing twice.
    let duplicate = data
        .events
        .for_contact(&contact_id)
        .any(|e| e.event_name == event_name && e.created_at == created_at);
    if !duplicate {
        data.events.events.push(DataEvent { event_name, created_at, contact_id, metadata });
    }
    Ok(Reply::accepted())
}
