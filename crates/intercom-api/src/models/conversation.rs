//! Conversations, their parts, and the bodies that start and reply to them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Extra, de, lenient_enum};

lenient_enum!(
    /// A conversation's state.
    State {
        /// Open.
        Open => "open",
        /// Closed.
        Closed => "closed",
        /// Snoozed.
        Snoozed => "snoozed",
    }
);

lenient_enum!(
    /// A conversation's priority.
    Priority {
        /// Prioritised.
        Priority => "priority",
        /// Not prioritised.
        NotPriority => "not_priority",
    }
);

lenient_enum!(
    /// The kind of a reply.
    ReplyType {
        /// A visible reply.
        Comment => "comment",
        /// An internal note.
        Note => "note",
    }
);

/// A conversation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Conversation {
    /// `conversation`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// Title.
    #[serde(default)]
    pub title: Option<String>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub updated_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub waiting_since: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub snoozed_until: Option<i64>,
    /// Whether it is open.
    #[serde(default)]
    pub open: Option<bool>,
    /// State.
    #[serde(default)]
    pub state: Option<State>,
    /// Whether it has been read.
    #[serde(default)]
    pub read: Option<bool>,
    /// Priority.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Assigned admin.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub admin_assignee_id: Option<String>,
    /// Assigned team.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub team_assignee_id: Option<String>,
    /// The first message.
    #[serde(default)]
    pub source: Option<ConversationSource>,
    /// Participating contacts (`{type: contact.list, contacts: [...]}`).
    #[serde(default)]
    pub contacts: Option<Value>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Value>,
    /// Custom attributes.
    #[serde(default)]
    pub custom_attributes: Map<String, Value>,
    /// Parts (present on single-conversation answers).
    #[serde(default)]
    pub conversation_parts: Option<ConversationParts>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The message that started a conversation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ConversationSource {
    /// Channel, e.g. `conversation` or `email`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// How it was delivered.
    #[serde(default)]
    pub delivered_as: Option<String>,
    /// Subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// HTML body.
    #[serde(default)]
    pub body: Option<String>,
    /// Author.
    #[serde(default)]
    pub author: Option<ConversationAuthor>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The author of a message or part.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ConversationAuthor {
    /// `admin`, `user`, `lead`, `bot`, …
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `conversation_parts`: `{type, conversation_parts: [...], total_count}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ConversationParts {
    /// The parts.
    #[serde(default)]
    pub conversation_parts: Vec<ConversationPart>,
    /// Parts in total.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub total_count: Option<i64>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One part (reply, note, assignment, …) of a conversation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ConversationPart {
    /// Id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// `comment`, `note`, `assignment`, `close`, …
    #[serde(default)]
    pub part_type: Option<String>,
    /// HTML body.
    #[serde(default)]
    pub body: Option<String>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    /// Author.
    #[serde(default)]
    pub author: Option<ConversationAuthor>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The body of `POST /conversations`: a contact starts a conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewConversation {
    /// `{type: user|lead|contact, id}`.
    pub from: Value,
    /// Message text.
    pub body: String,
}

impl NewConversation {
    /// A conversation started by the contact with Intercom id `contact_id`.
    pub fn from_contact(contact_id: impl Into<String>, body: impl Into<String>) -> Self {
        Self { from: serde_json::json!({ "type": "user", "id": contact_id.into() }), body: body.into() }
    }
}

/// The body of `POST /conversations/{id}/reply`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    /// `admin` or `user`.
    pub message_type: ReplyType,
    /// `admin`, `user`, …
    #[serde(rename = "type")]
    pub author_type: String,
    /// The replying admin's id (admin replies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_id: Option<String>,
    /// The replying contact's Intercom id (contact replies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intercom_user_id: Option<String>,
    /// Text (HTML allowed for admins).
    pub body: String,
}

impl Reply {
    /// A visible reply from an admin.
    pub fn admin_comment(admin_id: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            message_type: ReplyType::Comment,
            author_type: "admin".into(),
            admin_id: Some(admin_id.into()),
            intercom_user_id: None,
            body: body.into(),
        }
    }

    /// An internal note from an admin.
    pub fn admin_note(admin_id: impl Into<String>, body: impl Into<String>) -> Self {
        Self { message_type: ReplyType::Note, ..Self::admin_comment(admin_id, body) }
    }
}
