//! Conversations: list, retrieve, search, reply, manage (close/open/snooze/assign), and creation by a
//! contact (`POST /conversations`) or by the simulator's control API.

use std::collections::BTreeMap;

use parking_lot::RwLockWriteGuard;
use serde_json::{Value, json};

use crate::api::{ApiResult, Ctx, Reply};
use crate::contacts::Contact;
use crate::errors::ApiError;
use crate::input;
use crate::pagination;
use crate::search::{self, NoCustomAttributes, SearchModel};
use crate::state::WorkspaceData;

/// `GET /conversations` default page size.
pub const LIST_DEFAULT_PER_PAGE: u32 = 20;

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// `admin`, `user` or `lead`.
    pub kind: String,
    /// Admin or contact id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
}

impl Author {
    /// The contact as the author of a message.
    pub fn contact(contact: &Contact) -> Self {
        Author {
            kind: contact.role.as_str().into(),
            id: contact.id.clone(),
            name: contact.name.clone(),
            email: contact.email.clone(),
        }
    }

    fn to_json(&self) -> Value {
        json!({ "type": self.kind, "id": self.id, "name": self.name, "email": self.email })
    }
}

/// One part (message, note, state change) of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Numeric id as a string.
    pub id: String,
    /// `comment`, `note`, `open`, `close`, `snoozed`, `assignment`, `quick_reply`.
    pub part_type: String,
    /// HTML body.
    pub body: Option<String>,
    /// Epoch seconds.
    pub created_at: i64,
    /// Author.
    pub author: Author,
    /// Conversation state after this part.
    pub state: State,
}

impl Part {
    fn to_json(&self) -> Value {
        json!({
            "type": "conversation_part",
            "id": self.id,
            "part_type": self.part_type,
            "body": self.body,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "notified_at": self.created_at,
            "assigned_to": null,
            "author": self.author.to_json(),
            "attachments": [],
            "external_id": null,
            "redacted": false,
            "metadata": {},
            "email_message_metadata": null,
            "state": self.state.as_str(),
            "tags": [],
            "event_details": null,
            "app_package_code": null,
        })
    }
}

/// Conversation state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for a teammate.
    Open,
    /// Done.
    Closed,
    /// Snoozed until a time.
    Snoozed,
}

impl State {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Closed => "closed",
            State::Snoozed => "snoozed",
        }
    }
}

/// A stored conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Numeric id.
    pub id: u64,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds.
    pub updated_at: i64,
    /// Since when the contact has been waiting for a reply.
    pub waiting_since: Option<i64>,
    /// Snoozed until.
    pub snoozed_until: Option<i64>,
    /// First message id.
    pub source_id: String,
    /// How the first message was delivered (`customer_initiated`, `admin_initiated`).
    pub delivered_as: String,
    /// Subject of the first message.
    pub subject: String,
    /// Body of the first message.
    pub body: String,
    /// Author of the first message.
    pub author: Author,
    /// Participating contacts: (id, external id).
    pub contacts: Vec<(String, Option<String>)>,
    /// Assigned admin.
    pub admin_assignee_id: Option<i64>,
    /// Assigned team.
    pub team_assignee_id: Option<i64>,
    /// State.
    pub state: State,
    /// Read by the contact.
    pub read: bool,
    /// Tag ids with application time.
    pub tags: Vec<(String, i64)>,
    /// Marked as priority.
    pub priority: bool,
    /// Title.
    pub title: Option<String>,
    /// Parts after the first message.
    pub parts: Vec<Part>,
}

impl Conversation {
    /// Appends a part written by `author` at `now`, in the state the conversation is in now.
    fn push_part(
        &mut self,
        id: String,
        part_type: &str,
        text: Option<String>,
        author: Author,
        now: i64,
    ) -> Part {
        let part = Part {
            id,
            part_type: part_type.to_string(),
            body: text.map(|t| format!("<p>{t}</p>")),
            created_at: now,
            author,
            state: self.state,
        };
        self.parts.push(part.clone());
        self.updated_at = now;
        part
    }

    /// The conversation as the API renders it; `parts` chooses which parts to include, if any.
    pub fn to_json(&self, data: &WorkspaceData, parts: Option<&[Part]>) -> Value {
        let admin_id = data.admins.first().map(|a| a.id.as_str()).unwrap_or_default();
        let mut v = json!({
            "type": "conversation",
            "id": self.id.to_string(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "waiting_since": self.waiting_since,
            "snoozed_until": self.snoozed_until,
            "source": {
                "type": "conversation",
                "id": self.source_id,
                "delivered_as": self.delivered_as,
                "subject": self.subject,
                "body": self.body,
                "author": self.author.to_json(),
                "attachments": [],
                "url": null,
                "redacted": false,
            },
            "contacts": {
                "type": "contact.list",
                "contacts": self.contacts.iter().map(|(id, ext)| json!({ "type": "contact", "id": id, "external_id": ext })).collect::<Vec<_>>(),
            },
            "first_contact_reply": null,
            "admin_assignee_id": self.admin_assignee_id,
            "team_assignee_id": self.team_assignee_id,
            "open": self.state == State::Open,
            "state": self.state.as_str(),
            "read": self.read,
            "tags": {
                "type": "tag.list",
                "tags": self.tags.iter().filter_map(|(t, at)| data.tags.get(t).map(|t| t.applied_json(*at, admin_id))).collect::<Vec<_>>(),
            },
            "priority": if self.priority { "priority" } else { "not_priority" },
            "sla_applied": null,
            "statistics": null,
            "conversation_rating": null,
            "teammates": null,
            "title": self.title,
            "custom_attributes": {},
            "topics": {},
            "ticket": null,
            "linked_objects": { "type": "list", "data": [], "total_count": 0, "has_more": false },
            "ai_agent": null,
            "ai_agent_participated": false,
        });
        if let Some(parts) = parts {
            v["conversation_parts"] = json!({
                "type": "conversation_part.list",
                "conversation_parts": parts.iter().map(Part::to_json).collect::<Vec<_>>(),
                "total_count": parts.len(),
            });
        }
        v
    }
}

/// The conversations of a workspace.
#[derive(Debug, Default)]
pub struct ConversationStore {
    by_id: BTreeMap<u64, Conversation>,
    next_id: u64,
    next_part_id: u64,
}

impl ConversationStore {
    /// A conversation by id.
    pub fn get(&self, id: u64) -> Option<&Conversation> {
        self.by_id.get(&id)
    }

    /// Number of conversations.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn next_part_id(&mut self) -> String {
        self.next_part_id += 1;
        (100 + self.next_part_id).to_string()
    }

    /// Removes a deleted tag from every conversation.
    pub fn remove_tag_everywhere(&mut self, tag_id: &str) {
        for c in self.by_id.values_mut() {
            c.tags.retain(|(t, _)| t != tag_id);
        }
    }

    /// Points a merged-away contact's conversations at the surviving contact.
    pub fn reassign_contact(&mut self, from: &str, into: &str, into_external: Option<&str>) {
        for c in self.by_id.values_mut() {
            for entry in &mut c.contacts {
                if entry.0 == from {
                    *entry = (into.to_string(), into_external.map(str::to_string));
                }
            }
            c.contacts.dedup();
        }
    }

    /// Stores a conversation started by a contact; returns its id.
    pub fn start(&mut self, author: Author, external_id: Option<String>, body: &str, now: i64) -> u64 {
        self.next_id += 1;
        let id = 400 + self.next_id;
        let source_id = (403_918_000 + self.next_id).to_string();
        let contact_id = author.id.clone();
        self.by_id.insert(
            id,
            Conversation {
                id,
                created_at: now,
                updated_at: now,
                waiting_since: Some(now),
                snoozed_until: None,
                source_id,
                delivered_as: "customer_initiated".into(),
                subject: String::new(),
                body: format!("<p>{body}</p>"),
                author,
                contacts: vec![(contact_id, external_id)],
                admin_assignee_id: None,
                team_assignee_id: None,
                state: State::Open,
                read: false,
                tags: Vec::new(),
                priority: false,
                title: None,
                parts: Vec::new(),
            },
        );
        id
    }
}

fn not_found() -> ApiError {
    ApiError::resource_not_found()
}

fn parse_id(id: &str) -> Result<u64, ApiError> {
    id.parse().map_err(|_| not_found())
}

/// `GET /conversations`.
pub fn list(ctx: &mut Ctx<'_>) -> ApiResult {
    let per_page =
        input::query_u32(&ctx.query, "per_page", LIST_DEFAULT_PER_PAGE, crate::contacts::MAX_PER_PAGE)?;
    let after = input::query_str(&ctx.query, "starting_after").map(pagination::decode_cursor).transpose()?;
    let data = ctx.app.workspace.data.read();
    let total = data.conversations.len();
    let (page, info) = pagination::page_by_key(
        data.conversations.by_id.iter().map(|(k, v)| (*k, v)),
        total,
        per_page,
        after,
    );
    let items: Vec<Value> = page.into_iter().map(|c| c.to_json(&data, None)).collect();
    Reply::json(&json!({
        "type": "conversation.list",
        "pages": info.pages_json(),
        "total_count": total,
        "conversations": items,
    }))
}

/// `GET /conversations/{id}`: with all its parts.
pub fn get(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let id = parse_id(id)?;
    let data = ctx.app.workspace.data.read();
    let c = data.conversations.get(id).ok_or_else(not_found)?;
    Reply::json(&c.to_json(&data, Some(&c.parts)))
}

/// `POST /conversations/search`.
pub fn search(ctx: &mut Ctx<'_>) -> ApiResult {
    let body = ctx.json()?;
    let request = search::parse_search(SearchModel::Conversations, &body, &NoCustomAttributes)
        .map_err(crate::contacts::search_error)?;
    let after = request.starting_after.as_deref().map(pagination::decode_cursor).transpose()?;
    let ws = &ctx.app.workspace;
    let offset = crate::contacts::utc_offset_seconds(&ws.timezone);
    let data = ws.data.read();
    let mut hits: Vec<Value> = data
        .conversations
        .by_id
        .values()
        .map(|c| c.to_json(&data, None))
        .filter(|v| request.query.matches_with_offset(v, offset))
        .collect();
    drop(data);
    if let Some(sort) = &request.sort {
        hits.sort_by(|a, b| sort.compare(a, b));
    }
    let (page, info) = pagination::page_by_offset(hits, request.per_page, after);
    Reply::json(&json!({
        "type": "conversation.list",
        "pages": info.pages_json(),
        "total_count": info.total_count,
        "conversations": page,
    }))
}

fn admin_author(data: &WorkspaceData, admin_id: &str) -> Result<Author, ApiError> {
    let admin = data
        .admins
        .iter()
        .find(|a| a.id == admin_id)
        .ok_or_else(|| ApiError::not_found("admin_not_found", "Admin not found"))?;
    Ok(Author {
        kind: "admin".into(),
        id: admin.id.clone(),
        name: Some(admin.name.clone()),
        email: Some(admin.email.clone()),
    })
}

fn contact_author(data: &WorkspaceData, obj: &serde_json::Map<String, Value>) -> Result<Author, ApiError> {
    let c = &data.contacts;
    let contact = if let Some(id) = input::id_string(obj, "intercom_user_id")?.set() {
        c.get_live(&id)
    } else if let Some(uid) = input::id_string(obj, "user_id")?.set() {
        c.by_external_id(&uid)
    } else if let Some(email) = input::string(obj, "email")?.set() {
        c.by_email(&email).next()
    } else {
        return Err(ApiError::missing(
            "One of intercom_user_id, user_id or email is required for a user reply",
        ));
    }
    .ok_or_else(ApiError::contact_not_found)?;
    Ok(Author::contact(contact))
}

/// `POST /conversations/{id}/reply`: as a contact (`type: user`) or an admin (`type: admin`).
pub fn reply(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let conv_id = parse_id(id)?;
    let kind = input::string(obj, "type")?.set().ok_or_else(|| {
        ApiError::missing("'type' is a required parameter (user or admin)").with_field("type")
    })?;
    let message_type = input::required(obj, "message_type", input::string)?;
    let text = input::string(obj, "body")?.set();
    let now = ctx.now;
    let mut data = ctx.app.workspace.data.write();
    data.conversations.get(conv_id).ok_or_else(not_found)?;
    let (author, topic) = match kind.as_str() {
        "user" => {
            if !matches!(message_type.as_str(), "comment" | "quick_reply") {
                return Err(ApiError::invalid(format!(
                    "message_type '{message_type}' is not valid for a user reply"
                ))
                .with_field("message_type"));
            }
            (contact_author(&data, obj)?, "conversation.user.replied")
        }
        "admin" => {
            let topic = match message_type.as_str() {
                "comment" | "quick_reply" => "conversation.admin.replied",
                "note" => "conversation.admin.noted",
                other => {
                    return Err(ApiError::invalid(format!(
                        "message_type '{other}' is not valid for an admin reply"
                    ))
                    .with_field("message_type"));
                }
            };
            let admin_id = input::id_string(obj, "admin_id")?.set().ok_or_else(|| {
                ApiError::missing("'admin_id' is required for an admin reply").with_field("admin_id")
            })?;
            (admin_author(&data, &admin_id)?, topic)
        }
        other => {
            return Err(
                ApiError::invalid(format!("type must be user or admin, got '{other}'")).with_field("type")
            );
        }
    };
    if message_type != "quick_reply" && text.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::invalid("Body is required for comment and note replies").with_field("body"));
    }
    let part_id = data.conversations.next_part_id();
    let conv = data.conversations.by_id.get_mut(&conv_id).ok_or_else(not_found)?;
    let part_type = if kind == "user" && conv.state != State::Open {
        // A contact replying to a closed or snoozed conversation reopens it.
        conv.state = State::Open;
        conv.snoozed_until = None;
        "open"
    } else {
        message_type.as_str()
    };
    match (kind.as_str(), message_type.as_str()) {
        ("user", _) => conv.waiting_since = Some(now),
        (_, "note") => {}
        _ => conv.waiting_since = None,
    }
    let part = conv.push_part(part_id, part_type, text, author, now);
    answer_with_part(ctx, data, conv_id, &part, topic)
}

/// `POST /conversations/{id}/parts`: `close`, `open`, `snoozed` or `assignment` by an admin.
pub fn manage(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let conv_id = parse_id(id)?;
    let message_type = input::required(obj, "message_type", input::string)?;
    let admin_id = input::required(obj, "admin_id", input::id_string)?;
    let text = input::string(obj, "body")?.set();
    let now = ctx.now;
    let mut data = ctx.app.workspace.data.write();
    data.conversations.get(conv_id).ok_or_else(not_found)?;
    let author = admin_author(&data, &admin_id)?;
    let assignee = input::id_string(obj, "assignee_id")?.set();
    let snoozed_until = input::integer(obj, "snoozed_until")?.set();
    let part_id = data.conversations.next_part_id();
    let conv = data.conversations.by_id.get_mut(&conv_id).ok_or_else(not_found)?;
    let topic = match message_type.as_str() {
        "close" => {
            conv.state = State::Closed;
            conv.waiting_since = None;
            "conversation.admin.closed"
        }
        "open" => {
            conv.state = State::Open;
            conv.snoozed_until = None;
            "conversation.admin.opened"
        }
        "snoozed" => {
            let until = snoozed_until.ok_or_else(|| {
                ApiError::missing("'snoozed_until' is required to snooze").with_field("snoozed_until")
            })?;
            conv.state = State::Snoozed;
            conv.snoozed_until = Some(until);
            "conversation.admin.snoozed"
        }
        "assignment" => {
            let assignee = assignee.ok_or_else(|| {
                ApiError::missing("'assignee_id' is required to assign").with_field("assignee_id")
            })?;
            conv.admin_assignee_id = Some(
                assignee
                    .parse()
                    .map_err(|_| ApiError::not_found("assignee_not_found", "Assignee not found"))?,
            );
            "conversation.admin.assigned"
        }
        other => {
            return Err(ApiError::invalid(format!(
                "message_type must be one of close, open, snoozed, assignment; got '{other}'"
            ))
            .with_field("message_type"));
        }
    };
    let part = conv.push_part(part_id, &message_type, text, author, now);
    answer_with_part(ctx, data, conv_id, &part, topic)
}

/// Answers with the conversation and its new `part`, and notifies `topic` with the same JSON.
fn answer_with_part(
    ctx: &mut Ctx<'_>,
    data: RwLockWriteGuard<'_, WorkspaceData>,
    conv_id: u64,
    part: &Part,
    topic: &str,
) -> ApiResult {
    let conv = data.conversations.get(conv_id).ok_or_else(not_found)?;
    let json = conv.to_json(&data, Some(std::slice::from_ref(part)));
    drop(data);
    ctx.emit(topic, || json.clone());
    Reply::json(&json)
}

/// `POST /conversations` `{from: {type, id}, body}`: a contact starts a conversation.
pub fn create(ctx: &mut Ctx<'_>) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let from = obj.get("from").and_then(Value::as_object).ok_or_else(|| input::missing("from"))?;
    let contact_id = input::id_string(from, "id")?.set().ok_or_else(|| input::missing("from.id"))?;
    let text =
        input::string(obj, "body")?.set().filter(|b| !b.is_empty()).ok_or_else(|| input::missing("body"))?;
    let now = ctx.now;
    let mut data = ctx.app.workspace.data.write();
    let (conv_id, json) = start_conversation(&mut data, &contact_id, &text, now)?;
    let conv = data.conversations.get(conv_id).cloned().ok_or_else(not_found)?;
    drop(data);
    ctx.emit("conversation.user.created", || json);
    Reply::json(&json!({
        "type": "user_message",
        "id": conv.source_id,
        "created_at": now,
        "body": conv.body,
        "message_type": "inapp",
        "conversation_id": conv.id.to_string(),
    }))
}

/// Starts a conversation from a contact; returns its id and its JSON (for the webhook).
pub fn start_conversation(
    data: &mut WorkspaceData,
    contact_id: &str,
    body: &str,
    now: i64,
) -> Result<(u64, Value), ApiError> {
    let contact = data.contacts.get_live(contact_id).ok_or_else(ApiError::contact_not_found)?;
    let author = Author::contact(contact);
    let external = contact.external_id.clone();
    let id = data.conversations.start(author, external, body, now);
    let conv = data.conversations.get(id).ok_or_else(not_found)?;
    Ok((id, conv.to_json(data, Some(&[]))))
}
