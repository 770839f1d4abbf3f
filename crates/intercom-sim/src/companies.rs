//! Companies: upsert by `company_id`, retrieve, update, delete, list (page-based), scroll (one open
//! scroll per app, expiring after 1 minute unused), and attach/detach to contacts.

use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::api::{ApiResult, Ctx, Reply};
use crate::data_attributes::Model;
use crate::errors::ApiError;
use crate::input;
use crate::state::WorkspaceData;

/// Default page size of `GET /companies` and `POST /companies/list`.
pub const LIST_DEFAULT_PER_PAGE: u32 = 15;
/// Page size of the scroll API.
pub const SCROLL_PAGE_SIZE: usize = 50;
/// A scroll parameter expires after this long unused (milliseconds).
pub const SCROLL_TTL_MS: u64 = 60_000;
/// Most companies one contact can be attached to.
pub const MAX_COMPANIES_PER_CONTACT: usize = 1000;

/// A company as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Company {
    /// 24-hex Intercom id.
    pub id: String,
    /// The client's id, immutable once set.
    pub company_id: String,
    /// Name.
    pub name: Option<String>,
    /// When the client created it, epoch seconds.
    pub remote_created_at: Option<i64>,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds.
    pub updated_at: i64,
    /// Epoch seconds.
    pub last_request_at: Option<i64>,
    /// Revenue.
    pub monthly_spend: f64,
    /// Sessions.
    pub session_count: i64,
    /// Attached contacts.
    pub user_count: i64,
    /// Employees.
    pub size: Option<i64>,
    /// Website.
    pub website: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Plan name.
    pub plan: Option<String>,
    /// Custom attributes.
    pub custom_attributes: Map<String, Value>,
    /// Tag ids.
    pub tags: Vec<String>,
}

impl Company {
    /// The company as the API renders it.
    pub fn to_json(&self, workspace_id: &str, data: &WorkspaceData) -> Value {
        let spend = if self.monthly_spend.fract() == 0.0 {
            json!(self.monthly_spend as i64)
        } else {
            json!(self.monthly_spend)
        };
        let mut v = json!({
            "type": "company",
            "company_id": self.company_id,
            "id": self.id,
            "app_id": workspace_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "monthly_spend": spend,
            "session_count": self.session_count,
            "user_count": self.user_count,
            "tags": {
                "type": "tag.list",
                "tags": self.tags.iter().filter_map(|t| data.tags.get(t)).map(|t| t.basic_json()).collect::<Vec<_>>(),
            },
            "segments": { "type": "segment.list", "segments": [] },
            "plan": match &self.plan {
                Some(name) => json!({ "type": "plan", "id": plan_id(name), "name": name }),
                None => json!({}),
            },
            "custom_attributes": self.custom_attributes,
        });
        // Optional fields appear only when set, as in Intercom's examples (the schema has no nulls).
        if let Some(name) = &self.name {
            v["name"] = json!(name);
        }
        if let Some(at) = self.remote_created_at {
            v["remote_created_at"] = json!(at);
        }
        if let Some(at) = self.last_request_at {
            v["last_request_at"] = json!(at);
        }
        if let Some(size) = self.size {
            v["size"] = json!(size);
        }
        if let Some(w) = &self.website {
            v["website"] = json!(w);
        }
        if let Some(i) = &self.industry {
            v["industry"] = json!(i);
        }
        v
    }
}

/// A stable numeric id for a plan name.
fn plan_id(name: &str) -> String {
    let h = name.bytes().fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
    (h % 900_000 + 100_000).to_string()
}

/// The companies of a workspace.
#[derive(Debug, Default)]
pub struct CompanyStore {
    by_seq: BTreeMap<u64, Company>,
    seq_of: HashMap<String, u64>,
    by_company_id: HashMap<String, u64>,
    next_seq: u64,
}

impl CompanyStore {
    /// Number of companies.
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    /// Sequence number of a company by Intercom id.
    pub fn seq_of_id(&self, id: &str) -> Option<u64> {
        self.seq_of.get(id).copied()
    }

    /// Sequence number of a company by the client's `company_id`.
    pub fn seq_of_company_id(&self, company_id: &str) -> Option<u64> {
        self.by_company_id.get(company_id).copied()
    }

    /// A company by Intercom id.
    pub fn get(&self, id: &str) -> Option<&Company> {
        self.seq_of.get(id).and_then(|s| self.by_seq.get(s))
    }

    /// Stores a new company.
    pub fn insert(&mut self, company: Company) {
        self.next_seq += 1;
        self.seq_of.insert(company.id.clone(), self.next_seq);
        self.by_company_id.insert(company.company_id.clone(), self.next_seq);
        self.by_seq.insert(self.next_seq, company);
    }

    /// All companies in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Company)> {
        self.by_seq.iter().map(|(s, c)| (*s, c))
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Company> {
        let seq = *self.seq_of.get(id)?;
        self.by_seq.get_mut(&seq)
    }

    /// Adds or removes a tag on the company at `seq`.
    pub fn set_tag(&mut self, seq: u64, tag_id: &str, on: bool, now: i64) {
        if let Some(c) = self.by_seq.get_mut(&seq) {
            let has = c.tags.iter().any(|t| t == tag_id);
            if on && !has {
                c.tags.push(tag_id.to_string());
                c.updated_at = now;
            } else if !on && has {
                c.tags.retain(|t| t != tag_id);
                c.updated_at = now;
            }
        }
    }

    /// Changes the number of attached contacts.
    pub fn adjust_user_count(&mut self, id: &str, delta: i64) {
        if let Some(c) = self.get_mut(id) {
            c.user_count = (c.user_count + delta).max(0);
        }
    }

    /// Removes a deleted tag from every company.
    pub fn remove_tag_everywhere(&mut self, tag_id: &str) {
        for c in self.by_seq.values_mut() {
            c.tags.retain(|t| t != tag_id);
        }
    }

    fn remove(&mut self, id: &str) -> Option<Company> {
        let seq = self.seq_of.remove(id)?;
        let c = self.by_seq.remove(&seq)?;
        self.by_company_id.remove(&c.company_id);
        Some(c)
    }
}

/// An app's open scroll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrollState {
    /// The `scroll_param` handed to the client (the same on every page).
    pub param: String,
    /// Sequence number of the last company returned.
    pub after_seq: u64,
    /// Epoch milliseconds of the last use.
    pub last_used_ms: u64,
}

const COMPANY_FIELDS: &[&str] = &[
    "company_id",
    "name",
    "remote_created_at",
    "plan",
    "size",
    "website",
    "industry",
    "monthly_spend",
    "custom_attributes",
    "id",
];

fn company_not_found() -> ApiError {
    ApiError::not_found("company_not_found", "Company Not Found")
}

/// Applies the writable fields of a request to a company.
fn apply(c: &mut Company, obj: &Map<String, Value>, now: i64) -> Result<(), ApiError> {
    // Each request key sets the field of the same name; read in order, so the first wrongly typed
    // key is the one reported.
    macro_rules! set {
        ($($read:ident $f:ident),*) => {
            $(
                if let Some(v) = input::$read(obj, stringify!($f))?.update() {
                    c.$f = v;
                }
            )*
        };
    }
    set!(string name, integer remote_created_at, string plan, integer size, string website, string industry);
    if let Some(v) = input::number(obj, "monthly_spend")?.update() {
        c.monthly_spend = v.unwrap_or(0.0);
    }
    if let Some(Value::Object(attrs)) = obj.get("custom_attributes") {
        input::merge_custom_attributes(&mut c.custom_attributes, attrs);
    }
    c.updated_at = now;
    Ok(())
}

fn check_fields(obj: &Map<String, Value>, data: &WorkspaceData) -> Result<(), ApiError> {
    for key in obj.keys() {
        if !COMPANY_FIELDS.contains(&key.as_str()) {
            // Intercom's own answer to an unknown field: 400 bad_request "bad 'test' parameter".
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("bad '{key}' parameter"),
            ));
        }
    }
    match obj.get("custom_attributes") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(attrs)) => data.attributes.validate(Model::Company, attrs),
        Some(_) => {
            Err(ApiError::invalid("custom_attributes must be an object").with_field("custom_attributes"))
        }
    }
}

/// `POST /companies`: creates the company, or updates the one with the same `company_id`.
pub fn upsert(ctx: &mut Ctx<'_>) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let now = ctx.now;
    let ws = ctx.app.workspace.id.clone();
    let mut data = ctx.app.workspace.data.write();
    check_fields(obj, &data)?;
    let company_id = input::required(obj, "company_id", input::id_string)?;
    let (company, created) = match data.companies.seq_of_company_id(&company_id) {
        Some(seq) => {
            let c = data.companies.by_seq.get_mut(&seq).ok_or_else(company_not_found)?;
            apply(c, obj, now)?;
            (c.clone(), false)
        }
        None => {
            let id = data.object_id(now);
            let mut c = Company {
                id,
                company_id,
                name: None,
                remote_created_at: None,
                created_at: now,
                updated_at: now,
                last_request_at: None,
                monthly_spend: 0.0,
                session_count: 0,
                user_count: 0,
                size: None,
                website: None,
                industry: None,
                plan: None,
                custom_attributes: Map::new(),
                tags: Vec::new(),
            };
            apply(&mut c, obj, now)?;
            data.companies.insert(c.clone());
            (c, true)
        }
    };
    let json = company.to_json(&ws, &data);
    drop(data);
    ctx.emit(if created { "company.created" } else { "company.updated" }, || json.clone());
    Reply::json(&json)
}

/// `GET /companies/{id}`.
pub fn get(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    let c = data.companies.get(id).ok_or_else(company_not_found)?;
    Reply::json(&c.to_json(&ctx.app.workspace.id, &data))
}

/// `PUT /companies/{id}`.
pub fn update(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let now = ctx.now;
    let ws = ctx.app.workspace.id.clone();
    let mut data = ctx.app.workspace.data.write();
    check_fields(obj, &data)?;
    let c = data.companies.get_mut(id).ok_or_else(company_not_found)?;
    if let Some(new_id) = input::id_string(obj, "company_id")?.set()
        && new_id != c.company_id
    {
        return Err(ApiError::invalid("company_id cannot be changed once set").with_field("company_id"));
    }
    apply(c, obj, now)?;
    let company = c.clone();
    let json = company.to_json(&ws, &data);
    drop(data);
    ctx.emit("company.updated", || json.clone());
    Reply::json(&json)
}

/// `DELETE /companies/{id}`: detaches its contacts and answers `{id, object, deleted}`.
pub fn delete(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let mut data = ctx.app.workspace.data.write();
    let c = data.companies.remove(id).ok_or_else(company_not_found)?;
    data.contacts.remove_company_everywhere(&c.id);
    drop(data);
    ctx.emit("company.deleted", || json!({ "type": "company", "id": c.id }));
    Reply::json(&json!({ "id": c.id, "object": "company", "deleted": true }))
}

/// `GET /companies?company_id=|name=|tag_id=|segment_id=`, or the list when no filter is given.
pub fn retrieve(ctx: &mut Ctx<'_>) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    let ws = ctx.app.workspace.id.as_str();
    if let Some(cid) = input::query_str(&ctx.query, "company_id") {
        let c = data
            .companies
            .seq_of_company_id(cid)
            .and_then(|s| data.companies.by_seq.get(&s))
            .ok_or_else(company_not_found)?;
        return single_list(c.to_json(ws, &data));
    }
    if let Some(name) = input::query_str(&ctx.query, "name") {
        let c = data
            .companies
            .iter()
            .map(|(_, c)| c)
            .find(|c| c.name.as_deref() == Some(name))
            .ok_or_else(company_not_found)?;
        return single_list(c.to_json(ws, &data));
    }
    if let Some(tag_id) = input::query_str(&ctx.query, "tag_id") {
        let tag_id = tag_id.to_string();
        return page_list(ctx, &data, |c| c.tags.contains(&tag_id));
    }
    if input::query_str(&ctx.query, "segment_id").is_some() {
        // The simulator has no segments: a segment filter matches nothing.
        return page_list(ctx, &data, |_| false);
    }
    page_list(ctx, &data, |c| c.user_count > 0)
}

fn single_list(company: Value) -> ApiResult {
    Reply::json(&json!({
        "type": "list",
        "data": [company],
        "pages": { "type": "pages", "next": null, "page": 1, "per_page": LIST_DEFAULT_PER_PAGE, "total_pages": 1 },
        "total_count": 1,
    }))
}

/// Page-based company listing (`page`, `per_page`, `order`), as `GET /companies` and
/// `POST /companies/list` do it.
fn page_list(ctx: &Ctx<'_>, data: &WorkspaceData, keep: impl Fn(&Company) -> bool) -> ApiResult {
    let per_page = crate::input::query_u32(&ctx.query, "per_page", LIST_DEFAULT_PER_PAGE, 60)?;
    let page = crate::input::query_u32(&ctx.query, "page", 1, u32::MAX)?;
    let ascending = match crate::input::query_str(&ctx.query, "order") {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => {
            return Err(
                ApiError::invalid(format!("order must be asc or desc, got '{other}'")).with_field("order")
            );
        }
    };
    let mut matching: Vec<&Company> = data.companies.iter().map(|(_, c)| c).filter(|c| keep(c)).collect();
    // Intercom sorts by last_request_at (most recent first by default); creation order breaks ties.
    matching.sort_by_key(|c| c.last_request_at.unwrap_or(c.created_at));
    if !ascending {
        matching.reverse();
    }
    let total = matching.len();
    let total_pages = total.div_ceil(per_page as usize);
    let start = (page as usize - 1).saturating_mul(per_page as usize);
    let ws = ctx.app.workspace.id.as_str();
    let items: Vec<Value> =
        matching.iter().skip(start).take(per_page as usize).map(|c| c.to_json(ws, data)).collect();
    let next = if (page as usize) < total_pages {
        json!({ "page": page + 1, "per_page": per_page })
    } else {
        Value::Null
    };
    Reply::json(&json!({
        "type": "list",
        "data": items,
        "pages": { "type": "pages", "next": next, "page": page, "per_page": per_page, "total_pages": total_pages },
        "total_count": total,
    }))
}

/// `POST /companies/list`.
pub fn list(ctx: &mut Ctx<'_>) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    page_list(ctx, &data, |c| c.user_count > 0)
}

/// `GET /companies/scroll[?scroll_param=…]`.
pub fn scroll(ctx: &mut Ctx<'_>) -> ApiResult {
    let now_ms = ctx.sim.clock.now_millis();
    let param = input::query_str(&ctx.query, "scroll_param").map(str::to_string);
    let mut slot = ctx.app.scroll.lock();
    if slot.as_ref().is_some_and(|s| now_ms.saturating_sub(s.last_used_ms) >= SCROLL_TTL_MS) {
        *slot = None;
    }
    let after_seq = match (&param, slot.as_ref()) {
        (None, Some(_)) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "scroll_exists",
                "scroll already exists for this app",
            ));
        }
        (None, None) => 0,
        (Some(p), Some(s)) if *p == s.param => s.after_seq,
        (Some(_), _) => return Err(ApiError::not_found("not_found", "scroll parameter not found")),
    };
    let data = ctx.app.workspace.data.read();
    let page: Vec<(u64, &Company)> =
        data.companies.by_seq.range(after_seq + 1..).take(SCROLL_PAGE_SIZE).map(|(s, c)| (*s, c)).collect();
    let ws = ctx.app.workspace.id.as_str();
    let items: Vec<Value> = page.iter().map(|(_, c)| c.to_json(ws, &data)).collect();
    let scroll_param = match slot.as_ref() {
        Some(s) => s.param.clone(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    if let Some((last, _)) = page.last() {
        *slot = Some(ScrollState { param: scroll_param.clone(), after_seq: *last, last_used_ms: now_ms });
    } else {
        // The end was reached: the data is empty and the parameter expires.
        *slot = None;
    }
    Reply::json(&json!({
        "type": "list",
        "data": items,
        "pages": null,
        "total_count": null,
        "scroll_param": scroll_param,
    }))
}

/// `GET /companies/{id}/contacts`.
pub fn list_contacts(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    data.companies.get(id).ok_or_else(company_not_found)?;
    let ws = ctx.app.workspace.id.as_str();
    let contacts: Vec<_> = data
        .contacts
        .iter_live()
        .filter(|(_, c)| c.companies.iter().any(|x| x == id))
        .map(|(_, c)| c.view(ws))
        .collect();
    let total = contacts.len();
    Reply::json(&json!({
        "type": "list",
        "data": contacts,
        "total_count": total,
        "pages": { "type": "pages", "page": 1, "per_page": total.max(1), "total_pages": if total == 0 { 0 } else { 1 } },
    }))
}

/// `GET /contacts/{id}/companies`.
pub fn list_for_contact(ctx: &mut Ctx<'_>, contact_id: &str) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    let contact = data.contacts.get_live(contact_id).ok_or_else(ApiError::contact_not_found)?;
    let ws = ctx.app.workspace.id.as_str();
    let companies: Vec<Value> = contact
        .companies
        .iter()
        .filter_map(|id| data.companies.get(id))
        .map(|c| c.to_json(ws, &data))
        .collect();
    let total = companies.len();
    Reply::json(&json!({
        "type": "list",
        "data": companies,
        "total_count": total,
        "pages": { "type": "pages", "next": null, "page": 1, "per_page": 50, "total_pages": 1 },
    }))
}

/// `POST /contacts/{id}/companies` `{id: company id}`.
pub fn attach_to_contact(ctx: &mut Ctx<'_>, contact_id: &str) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let company_id =
        input::id_string(obj, "id")?.set().ok_or_else(|| ApiError::missing("company not specified"))?;
    let now = ctx.now;
    let ws = ctx.app.workspace.id.clone();
    let mut data = ctx.app.workspace.data.write();
    let contact = data.contacts.get_live(contact_id).ok_or_else(ApiError::contact_not_found)?;
    let already = contact.companies.contains(&company_id);
    let count = contact.companies.len();
    data.companies.get(&company_id).ok_or_else(company_not_found)?;
    if !already {
        if count >= MAX_COMPANIES_PER_CONTACT {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "contact_company_limit_exceeded",
                "Contact has reached the maximum of 1000 company associations",
            ));
        }
        data.contacts.modify(contact_id, |c| {
            c.companies.push(company_id.clone());
            c.updated_at = now;
        });
        data.companies.adjust_user_count(&company_id, 1);
    }
    let company = data.companies.get(&company_id).ok_or_else(company_not_found)?;
    let json = company.to_json(&ws, &data);
    let contact_json = data.contacts.get(contact_id).map(|c| c.to_value(&ws));
    drop(data);
    if !already {
        ctx.emit("company.contact.attached", || {
            json!({ "type": "contact_company", "created_at": now, "company": json, "contact": contact_json })
        });
    }
    Reply::json(&json)
}

/// `DELETE /contacts/{id}/companies/{company_id}`.
pub fn detach_from_contact(ctx: &mut Ctx<'_>, contact_id: &str, company_id: &str) -> ApiResult {
    let now = ctx.now;
    let ws = ctx.app.workspace.id.clone();
    let mut data = ctx.app.workspace.data.write();
    let contact = data.contacts.get_live(contact_id).ok_or_else(ApiError::contact_not_found)?;
    let attached = contact.companies.iter().any(|c| c == company_id);
    data.companies.get(company_id).ok_or_else(company_not_found)?;
    if attached {
        data.contacts.modify(contact_id, |c| {
            c.companies.retain(|x| x != company_id);
            c.updated_at = now;
        });
        data.companies.adjust_user_count(company_id, -1);
    }
    let company = data.companies.get(company_id).ok_or_else(company_not_found)?;
    let json = company.to_json(&ws, &data);
    let contact_json = data.contacts.get(contact_id).map(|c| c.to_value(&ws));
    drop(data);
    if attached {
        ctx.emit("company.contact.detached", || {
            json!({ "type": "contact_company", "created_at": now, "company": json, "contact": contact_json })
        });
    }
    Reply::json(&json)
}
