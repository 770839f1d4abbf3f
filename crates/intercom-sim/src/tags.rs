//! Tags: `GET /tags`, `POST /tags` (create, rename, tag/untag companies, tag users),
//! `GET /tags/{id}`, `DELETE /tags/{id}`.

use serde_json::{Value, json};

use crate::api::{ApiResult, Ctx, Reply};
use crate::errors::ApiError;
use crate::input;

/// A workspace tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Numeric id as a string.
    pub id: String,
    /// Name (unique, compared case-insensitively).
    pub name: String,
}

impl Tag {
    /// `{type: tag, id, name}`.
    pub fn basic_json(&self) -> Value {
        json!({ "type": "tag", "id": self.id, "name": self.name })
    }

    /// The tag as applied to something: with `applied_at` and `applied_by`.
    pub fn applied_json(&self, applied_at: i64, admin_id: &str) -> Value {
        json!({
            "type": "tag",
            "id": self.id,
            "name": self.name,
            "applied_at": applied_at,
            "applied_by": { "type": "admin", "id": admin_id },
        })
    }
}

/// The tags of a workspace.
#[derive(Debug, Default)]
pub struct TagStore {
    tags: Vec<Tag>,
    next_id: u64,
}

impl TagStore {
    /// Finds a tag by id.
    pub fn get(&self, id: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.id == id)
    }

    /// Finds a tag by name, ignoring case.
    pub fn by_name(&self, name: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// Returns the tag with this name, creating it if needed.
    pub fn get_or_create(&mut self, name: &str) -> Tag {
        if let Some(tag) = self.by_name(name) {
            return tag.clone();
        }
        self.next_id += 1;
        let tag = Tag { id: (100 + self.next_id).to_string(), name: name.to_string() };
        self.tags.push(tag.clone());
        tag
    }

    /// All tags.
    pub fn all(&self) -> &[Tag] {
        &self.tags
    }

    fn remove(&mut self, id: &str) -> Option<Tag> {
        let pos = self.tags.iter().position(|t| t.id == id)?;
        Some(self.tags.remove(pos))
    }
}

/// `GET /tags`.
pub fn list(ctx: &mut Ctx<'_>) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    let tags: Vec<Value> = data.tags.all().iter().map(Tag::basic_json).collect();
    Reply::json(&json!({ "type": "list", "data": tags }))
}

/// `GET /tags/{id}`.
pub fn get(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    data.tags
        .get(id)
        .map(|t| Reply::json(&t.basic_json()))
        .unwrap_or_else(|| Err(ApiError::resource_not_found()))
}

/// `DELETE /tags/{id}`: removes the tag from every contact, company and conversation too.
pub fn delete(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let mut data = ctx.app.workspace.data.write();
    if data.tags.remove(id).is_none() {
        return Err(ApiError::resource_not_found());
    }
    data.contacts.remove_tag_everywhere(id);
    data.companies.remove_tag_everywhere(id);
    data.conversations.remove_tag_everywhere(id);
    Ok(Reply { status: axum::http::StatusCode::OK, body: Vec::new() })
}

/// `POST /tags`: create or rename a tag, or tag/untag companies or users with it.
pub fn create(ctx: &mut Ctx<'_>) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let invalid = || ApiError::invalid("invalid tag parameters");
    for key in obj.keys() {
        if !matches!(key.as_str(), "name" | "id" | "companies" | "users") {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "parameter_invalid",
                "invalid tag parameters",
            ));
        }
    }
    let name = input::string(obj, "name")?.set().filter(|n| !n.trim().is_empty()).ok_or_else(invalid)?;
    let now = ctx.now;
    let mut data = ctx.app.workspace.data.write();

    if let Some(id) = input::id_string(obj, "id")?.set() {
        // Rename an existing tag.
        if obj.contains_key("companies") || obj.contains_key("users") {
            return Err(invalid());
        }
        let tag = data.tags.tags.iter_mut().find(|t| t.id == id).ok_or_else(ApiError::resource_not_found)?;
        tag.name = name;
        return Reply::json(&tag.basic_json());
    }

    if let Some(companies) = obj.get("companies") {
        let list = companies.as_array().ok_or_else(invalid)?;
        // Resolve every company first so a bad reference changes nothing.
        let mut targets = Vec::new();
        for entry in list {
            let e = entry.as_object().ok_or_else(invalid)?;
            let untag = matches!(e.get("untag"), Some(Value::Bool(true)));
            let seq = if let Some(id) = input::id_string(e, "id")?.set() {
                data.companies.seq_of_id(&id)
            } else if let Some(cid) = input::id_string(e, "company_id")?.set() {
                data.companies.seq_of_company_id(&cid)
            } else {
                return Err(invalid());
            };
            targets.push((
                seq.ok_or_else(|| ApiError::not_found("company_not_found", "Company Not Found"))?,
                untag,
            ));
        }
        let tag = data.tags.get_or_create(&name);
        for (seq, untag) in targets {
            data.companies.set_tag(seq, &tag.id, !untag, now);
        }
        return Reply::json(&tag.basic_json());
    }

    if let Some(users) = obj.get("users") {
        let list = users.as_array().ok_or_else(invalid)?;
        let mut ids = Vec::new();
        for entry in list {
            let e = entry.as_object().ok_or_else(invalid)?;
            let id = input::id_string(e, "id")?.set().ok_or_else(invalid)?;
            if data.contacts.get(&id).is_none() {
                return Err(ApiError::contact_not_found());
            }
            ids.push(id);
        }
        let tag = data.tags.get_or_create(&name);
        for id in ids {
            data.contacts.add_tag(&id, &tag.id, now);
        }
        return Reply::json(&tag.basic_json());
    }

    let tag = data.tags.get_or_create(&name);
    Reply::json(&tag.basic_json())
}
