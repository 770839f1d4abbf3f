//! The searchable fields of contacts and conversations, and where each one lives in the JSON object.
//!
//! Search field names are Intercom's (from the "Accepted Fields" tables of `SearchContacts` and
//! `searchConversations` in the 2.15 description); the JSON paths are where the same value sits in
//! the contact or conversation object the API returns. They differ for list-shaped values
//! (`tag_id` is `tags.data[].id` on a contact) and for a few fields whose search name never matched
//! the model (`conversation_rating.score` is `conversation_rating.rating`).

use super::{AttributeType, SearchModel};

/// One entry of a model's field table.
#[derive(Debug)]
pub(super) struct FieldSpec {
    /// The name a query uses.
    pub name: &'static str,
    /// The type the value must have.
    pub ty: AttributeType,
    /// What the field accepts beyond its type's rules.
    pub kind: FieldKind,
    /// Where the value is read from; `[]` flattens an array. All paths are read and their values pooled,
    /// so a field can fall back to a second place without the caller having to know which one it used.
    pub paths: &'static [&'static str],
}

/// Field-specific behaviour on top of the type's operator set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldKind {
    /// Operators follow the type.
    Plain,
    /// `tag_id` and `segment_id` on contacts: `=` and `!=` only (SearchContacts operator table).
    IdOnly,
    /// `source.body` on conversations: matched against each word of the body, not the whole text.
    PerWord,
}

use AttributeType::{Boolean as B, Date as D, Integer as I, String as S};
use FieldKind::{IdOnly, PerWord, Plain};

const fn f(name: &'static str, ty: AttributeType, paths: &'static [&'static str]) -> FieldSpec {
    FieldSpec { name, ty, kind: Plain, paths }
}

const fn k(
    name: &'static str,
    ty: AttributeType,
    kind: FieldKind,
    paths: &'static [&'static str],
) -> FieldSpec {
    FieldSpec { name, ty, kind, paths }
}

/// Contacts: facts sheet §5.3 and the SearchContacts "Accepted Fields" table.
static CONTACT_FIELDS: &[FieldSpec] = &[
    f("id", S, &["id"]),
    f("role", S, &["role"]),
    f("name", S, &["name"]),
    // The contact object carries the avatar as `{type, image_url}`; older payloads had a bare URL.
    f("avatar", S, &["avatar.image_url", "avatar"]),
    f("owner_id", I, &["owner_id"]),
    f("email", S, &["email"]),
    f("email_domain", S, &["email_domain"]),
    f("phone", S, &["phone"]),
    f("external_id", S, &["external_id"]),
    f("created_at", D, &["created_at"]),
    f("signed_up_at", D, &["signed_up_at"]),
    f("updated_at", D, &["updated_at"]),
    f("last_seen_at", D, &["last_seen_at"]),
    f("last_contacted_at", D, &["last_contacted_at"]),
    f("last_replied_at", D, &["last_replied_at"]),
    f("last_email_opened_at", D, &["last_email_opened_at"]),
    f("last_email_clicked_at", D, &["last_email_clicked_at"]),
    f("language_override", S, &["language_override"]),
    f("browser", S, &["browser"]),
    f("browser_language", S, &["browser_language"]),
    f("os", S, &["os"]),
    f("location.country", S, &["location.country"]),
    f("location.region", S, &["location.region"]),
    f("location.city", S, &["location.city"]),
    f("unsubscribed_from_emails", B, &["unsubscribed_from_emails"]),
    f("marked_email_as_spam", B, &["marked_email_as_spam"]),
    f("has_hard_bounced", B, &["has_hard_bounced"]),
    f("ios_last_seen_at", D, &["ios_last_seen_at"]),
    f("ios_app_version", S, &["ios_app_version"]),
    f("ios_device", S, &["ios_device"]),
    f("ios_app_device", S, &["ios_app_device"]),
    f("ios_os_version", S, &["ios_os_version"]),
    f("ios_app_name", S, &["ios_app_name"]),
    f("ios_sdk_version", S, &["ios_sdk_version"]),
    f("android_last_seen_at", D, &["android_last_seen_at"]),
    f("android_app_version", S, &["android_app_version"]),
    f("android_device", S, &["android_device"]),
    f("android_app_name", S, &["android_app_name"]),
    // The table spells it `andoid_sdk_version`; accept the typo that clients copy from the docs and
    // the name the contact object really uses.
    f("android_sdk_version", S, &["android_sdk_version"]),
    f("andoid_sdk_version", S, &["android_sdk_version"]),
    // Segment membership is not part of the contact object Intercom returns. A server that supports
    // it adds `segment_ids` (array of ids) to the document it searches.
    k("segment_id", S, IdOnly, &["segment_ids[]", "segments.data[].id"]),
    k("tag_id", S, IdOnly, &["tags.data[].id"]),
];

/// Conversations: the searchConversations "Accepted Fields" table.
static CONVERSATION_FIELDS: &[FieldSpec] = &[
    f("id", S, &["id"]),
    f("created_at", D, &["created_at"]),
    f("updated_at", D, &["updated_at"]),
    f("source.type", S, &["source.type"]),
    f("source.id", S, &["source.id"]),
    f("source.delivered_as", S, &["source.delivered_as"]),
    f("source.subject", S, &["source.subject"]),
    k("source.body", S, PerWord, &["source.body"]),
    f("source.author.id", S, &["source.author.id"]),
    f("source.author.type", S, &["source.author.type"]),
    f("source.author.name", S, &["source.author.name"]),
    f("source.author.email", S, &["source.author.email"]),
    f("source.url", S, &["source.url"]),
    f("contact_ids", S, &["contacts.contacts[].id"]),
    f("teammate_ids", S, &["teammates.teammates[].id"]),
    f("admin_assignee_id", I, &["admin_assignee_id"]),
    f("team_assignee_id", I, &["team_assignee_id"]),
    f("channel_initiated", S, &["channel_initiated"]),
    f("open", B, &["open"]),
    f("read", B, &["read"]),
    f("state", S, &["state"]),
    f("waiting_since", D, &["waiting_since"]),
    f("snoozed_until", D, &["snoozed_until"]),
    f("tag_ids", S, &["tags.tags[].id"]),
    f("priority", S, &["priority"]),
    f("statistics.time_to_assignment", I, &["statistics.time_to_assignment"]),
    f("statistics.time_to_admin_reply", I, &["statistics.time_to_admin_reply"]),
    f("statistics.time_to_first_close", I, &["statistics.time_to_first_close"]),
    f("statistics.time_to_last_close", I, &["statistics.time_to_last_close"]),
    f("statistics.median_time_to_reply", I, &["statistics.median_time_to_reply"]),
    f("statistics.first_contact_reply_at", D, &["statistics.first_contact_reply_at"]),
    f("statistics.first_assignment_at", D, &["statistics.first_assignment_at"]),
    f("statistics.first_admin_reply_at", D, &["statistics.first_admin_reply_at"]),
    f("statistics.first_close_at", D, &["statistics.first_close_at"]),
    f("statistics.last_assignment_at", D, &["statistics.last_assignment_at"]),
    f("statistics.last_assignment_admin_reply_at", D, &["statistics.last_assignment_admin_reply_at"]),
    f("statistics.last_contact_reply_at", D, &["statistics.last_contact_reply_at"]),
    f("statistics.last_admin_reply_at", D, &["statistics.last_admin_reply_at"]),
    f("statistics.last_close_at", D, &["statistics.last_close_at"]),
    f("statistics.last_closed_by_id", S, &["statistics.last_closed_by_id"]),
    f("statistics.count_reopens", I, &["statistics.count_reopens"]),
    f("statistics.count_assignments", I, &["statistics.count_assignments"]),
    f("statistics.count_conversation_parts", I, &["statistics.count_conversation_parts"]),
    // The rating object of a conversation has `rating`, `remark`, `created_at`, `contact` and
    // `teammate`; the search table names them differently (and once spelled `admin_d`).
    f("conversation_rating.requested_at", D, &["conversation_rating.requested_at"]),
    f(
        "conversation_rating.replied_at",
        D,
        &["conversation_rating.replied_at", "conversation_rating.created_at"],
    ),
    f("conversation_rating.score", I, &["conversation_rating.rating", "conversation_rating.score"]),
    // Intercom's 2.2 docs used `conversation_rating.rating` in their own examples.
    f("conversation_rating.rating", I, &["conversation_rating.rating"]),
    f("conversation_rating.remark", S, &["conversation_rating.remark"]),
    f("conversation_rating.contact_id", S, &["conversation_rating.contact.id"]),
    f("conversation_rating.admin_id", S, &["conversation_rating.teammate.id"]),
    f("conversation_rating.admin_d", S, &["conversation_rating.teammate.id"]),
    f("ai_agent_participated", B, &["ai_agent_participated"]),
    f("ai_agent.resolution_state", S, &["ai_agent.resolution_state"]),
    f("ai_agent.last_answer_type", S, &["ai_agent.last_answer_type"]),
    f("ai_agent.rating", I, &["ai_agent.rating"]),
    f("ai_agent.rating_remark", S, &["ai_agent.rating_remark"]),
    f("ai_agent.source_type", S, &["ai_agent.source_type"]),
    f("ai_agent.source_title", S, &["ai_agent.source_title"]),
];

/// The prefix that names a custom data attribute in a query.
pub(super) const CUSTOM_PREFIX: &str = "custom_attributes.";

/// The built-in field table of a model.
pub(super) fn table(model: SearchModel) -> &'static [FieldSpec] {
    match model {
        SearchModel::Contacts => CONTACT_FIELDS,
        SearchModel::Conversations => CONVERSATION_FIELDS,
    }
}

/// Looks a built-in (non-custom) field up by its query name.
pub(super) fn builtin(model: SearchModel, name: &str) -> Option<&'static FieldSpec> {
    table(model).iter().find(|spec| spec.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn field_names_are_unique_per_model() {
        for model in [SearchModel::Contacts, SearchModel::Conversations] {
            let mut seen = HashSet::new();
            for spec in table(model) {
                assert!(seen.insert(spec.name), "{model:?} lists {} twice", spec.name);
                assert!(!spec.paths.is_empty(), "{} has no path", spec.name);
            }
        }
    }

    #[test]
    fn contact_table_covers_facts_sheet_list() {
        // Facts sheet §5.3, excluding the ios_*/android_* families which are checked by prefix.
        for name in [
            "id",
            "role",
            "name",
            "avatar",
            "owner_id",
            "email",
            "email_domain",
            "phone",
            "external_id",
            "created_at",
            "signed_up_at",
            "updated_at",
            "last_seen_at",
            "last_contacted_at",
            "last_replied_at",
            "last_email_opened_at",
            "last_email_clicked_at",
            "language_override",
            "browser",
            "browser_language",
            "os",
            "location.country",
            "location.region",
            "location.city",
            "unsubscribed_from_emails",
            "marked_email_as_spam",
            "has_hard_bounced",
            "segment_id",
            "tag_id",
        ] {
            assert!(builtin(SearchModel::Contacts, name).is_some(), "{name} missing");
        }
        let ios = table(SearchModel::Contacts).iter().filter(|s| s.name.starts_with("ios_")).count();
        let android = table(SearchModel::Contacts).iter().filter(|s| s.name.starts_with("android_")).count();
        assert_eq!(ios, 7);
        assert_eq!(android, 5);
    }
}
