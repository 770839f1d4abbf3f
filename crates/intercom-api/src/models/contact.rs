//! Contacts (users and leads) and the bodies that create and update them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Avatar, Extra, body_setters, de, lenient_enum};

lenient_enum!(
    /// Whether a contact is an identified user or a lead.
    Role {
        /// An identified user.
        User => "user",
        /// A lead (unidentified or not yet signed up).
        Lead => "lead",
    }
);

/// A contact.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Contact {
    /// `contact`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Intercom's id (24 hex digits).
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// Workspace id.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Your id for the contact.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub external_id: Option<String>,
    /// User or lead.
    #[serde(default)]
    pub role: Option<Role>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Domain of the e-mail address.
    #[serde(default)]
    pub email_domain: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Avatar (an object, or null).
    #[serde(default)]
    pub avatar: Option<Avatar>,
    /// Owning admin id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub owner_id: Option<String>,
    /// Social profiles.
    #[serde(default)]
    pub social_profiles: Option<SocialProfiles>,
    /// E-mails to this contact hard-bounced.
    #[serde(default)]
    pub has_hard_bounced: Option<bool>,
    /// The contact marked an e-mail as spam.
    #[serde(default)]
    pub marked_email_as_spam: Option<bool>,
    /// The contact unsubscribed from e-mail.
    #[serde(default)]
    pub unsubscribed_from_emails: Option<bool>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub updated_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub signed_up_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub last_seen_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub last_replied_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub last_contacted_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub last_email_opened_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub last_email_clicked_at: Option<i64>,
    /// Language override.
    #[serde(default)]
    pub language_override: Option<String>,
    /// Browser.
    #[serde(default)]
    pub browser: Option<String>,
    /// Browser version.
    #[serde(default)]
    pub browser_version: Option<String>,
    /// Browser language.
    #[serde(default)]
    pub browser_language: Option<String>,
    /// Operating system.
    #[serde(default)]
    pub os: Option<String>,
    /// Last known location.
    #[serde(default)]
    pub location: Option<ContactLocation>,
    /// Custom attributes.
    #[serde(default)]
    pub custom_attributes: Map<String, Value>,
    /// Tags (a nested list; at most a few items, see `has_more`).
    #[serde(default)]
    pub tags: Option<NestedList>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<NestedList>,
    /// Companies (missing from some real payloads).
    #[serde(default)]
    pub companies: Option<NestedList>,
    /// Unknown fields (device fields, UTM fields, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where a contact was last seen.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ContactLocation {
    /// Country name.
    #[serde(default)]
    pub country: Option<String>,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// ISO country code.
    #[serde(default)]
    pub country_code: Option<String>,
    /// Continent code.
    #[serde(default)]
    pub continent_code: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `social_profiles`: `{type: list, data: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct SocialProfiles {
    /// The profiles as sent.
    #[serde(default)]
    pub data: Vec<Value>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A list nested inside a contact (`tags`, `notes`, `companies`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct NestedList {
    /// References to the items.
    #[serde(default)]
    pub data: Vec<NestedRef>,
    /// URL of the full list.
    #[serde(default)]
    pub url: Option<String>,
    /// Items in the full list.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub total_count: Option<i64>,
    /// Whether the full list has more than `data`.
    #[serde(default)]
    pub has_more: Option<bool>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A reference inside a nested list: `{type, id, url}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct NestedRef {
    /// Object type.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Object id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// URL of the object.
    #[serde(default)]
    pub url: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The answer to delete, archive and unarchive: `{type, id, external_id, deleted|archived}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ContactReference {
    /// `contact`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Intercom's id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// Your id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub external_id: Option<String>,
    /// Set on delete answers.
    #[serde(default)]
    pub deleted: Option<bool>,
    /// Set on archive/unarchive answers.
    #[serde(default)]
    pub archived: Option<bool>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The body of `POST /contacts`; at least one of `email`, `external_id` or `role` is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewContact {
    /// `user` (default at Intercom when an external id is given) or `lead`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Your id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Full name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Avatar image URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_up_at: Option<i64>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<i64>,
    /// Owning admin id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<i64>,
    /// Unsubscribed from e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsubscribed_from_emails: Option<bool>,
    /// Custom attributes; validated against the workspace's data attributes before sending.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub custom_attributes: Map<String, Value>,
}

impl NewContact {
    /// A user with your id.
    pub fn user(external_id: impl Into<String>) -> Self {
        Self { role: Some(Role::User), external_id: Some(external_id.into()), ..Self::default() }
    }

    /// A lead.
    pub fn lead() -> Self {
        Self { role: Some(Role::Lead), ..Self::default() }
    }

    body_setters! {
        /// Sets the e-mail address.
        email: String,
        /// Sets the name.
        name: String,
    }
}

/// The body of `PUT /contacts/{id}`: only the fields set are changed (`Some(Value::Null)` in
/// `custom_attributes` clears one).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContactUpdate {
    /// `user` or `lead`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Your id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Full name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<i64>,
    /// Unsubscribed from e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsubscribed_from_emails: Option<bool>,
    /// Custom attributes to set (validated before sending).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub custom_attributes: Map<String, Value>,
}

impl ContactUpdate {
    body_setters! {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_sparse_contact_with_surprises() {
        // Required-by-spec fields missing, an unknown role, an unknown field and a numeric owner id.
        let c: Contact = serde_json::from_value(serde_json::json!({
            "type": "contact", "id": "6571", "role": "visitor", "owner_id": 42,
            "sms_consent": true, "custom_attributes": {"plan": "pro"}, "avatar": null
        }))
        .expect("lenient decoding");
        assert_eq!(c.role, Some(Role::Unknown("visitor".into())));
        assert_eq!(c.owner_id.as_deref(), Some("42"));
        assert_eq!(c.extra.get("sms_consent"), Some(&Value::Bool(true)));
        assert_eq!(c.email, None);
        assert_eq!(c.companies, None);
        assert_eq!(c.custom_attributes["plan"], "pro");
    }
}
