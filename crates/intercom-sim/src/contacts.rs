//! Contacts (users and leads): create, retrieve, update, delete, archive, unarchive, list, search,
//! merge, find by external id, and tag attach/detach.

use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value, json};

use crate::api::{ApiResult, Ctx, Reply};
use crate::data_attributes::Model;
use crate::errors::ApiError;
use crate::input::{self, Field};
use crate::pagination;
use crate::search::{self, SearchModel};

/// Contacts list: default and largest page size.
pub const LIST_DEFAULT_PER_PAGE: u32 = 10;
/// Largest page size of any list.
pub const MAX_PER_PAGE: u32 = 150;
/// Nested lists (tags, companies) inside a contact show at most this many items.
const NESTED_LIMIT: usize = 10;

/// `user` or `lead`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An identified user.
    User,
    /// An anonymous or unidentified lead.
    Lead,
}

impl Role {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Lead => "lead",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "lead" => Some(Role::Lead),
            _ => None,
        }
    }
}

/// Where a contact was last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// Country name.
    pub country: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// City.
    pub city: Option<String>,
    /// ISO country code.
    pub country_code: Option<String>,
    /// Continent code.
    pub continent_code: Option<String>,
}

/// A contact as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    /// 24-hex id.
    pub id: String,
    /// Client-given id.
    pub external_id: Option<String>,
    /// User or lead.
    pub role: Role,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// Owning admin.
    pub owner_id: Option<i64>,
    /// E-mail hard-bounced.
    pub has_hard_bounced: bool,
    /// Marked e-mail as spam.
    pub marked_email_as_spam: bool,
    /// Unsubscribed from e-mail.
    pub unsubscribed_from_emails: bool,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds.
    pub updated_at: i64,
    /// Epoch seconds.
    pub signed_up_at: Option<i64>,
    /// Epoch seconds.
    pub last_seen_at: Option<i64>,
    /// Epoch seconds.
    pub last_replied_at: Option<i64>,
    /// Epoch seconds.
    pub last_contacted_at: Option<i64>,
    /// Epoch seconds.
    pub last_email_opened_at: Option<i64>,
    /// Epoch seconds.
    pub last_email_clicked_at: Option<i64>,
    /// Language override.
    pub language_override: Option<String>,
    /// Browser.
    pub browser: Option<String>,
    /// Browser version.
    pub browser_version: Option<String>,
    /// Browser language.
    pub browser_language: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Location.
    pub location: Location,
    /// Custom attributes, validated against the data-attribute schema.
    pub custom_attributes: Map<String, Value>,
    /// Applied tags: (tag id, applied_at).
    pub tags: Vec<(String, i64)>,
    /// Attached company ids.
    pub companies: Vec<String>,
    /// Archived contacts are hidden from retrieve, list and search until unarchived.
    pub archived: bool,
}

impl Contact {
    /// A contact with only the identity fields set.
    pub fn new(id: String, role: Role, now: i64) -> Self {
        Self {
            id,
            external_id: None,
            role,
            email: None,
            phone: None,
            name: None,
            avatar: None,
            owner_id: None,
            has_hard_bounced: false,
            marked_email_as_spam: false,
            unsubscribed_from_emails: false,
            created_at: now,
            updated_at: now,
            signed_up_at: None,
            last_seen_at: None,
            last_replied_at: None,
            last_contacted_at: None,
            last_email_opened_at: None,
            last_email_clicked_at: None,
            language_override: None,
            browser: None,
            browser_version: None,
            browser_language: None,
            os: None,
            location: Location::default(),
            custom_attributes: Map::new(),
            tags: Vec::new(),
            companies: Vec::new(),
            archived: false,
        }
    }

    /// The contact as the API renders it.
    pub fn view<'a>(&'a self, workspace_id: &'a str) -> ContactView<'a> {
        ContactView { c: self, ws: workspace_id, nested_limit: NESTED_LIMIT }
    }

    /// The contact as a JSON value with complete nested lists (search and webhooks).
    pub fn to_value(&self, workspace_id: &str) -> Value {
        let view = ContactView { c: self, ws: workspace_id, nested_limit: usize::MAX };
        // Serialising plain strings, numbers and maps into a Value cannot fail.
        serde_json::to_value(view).unwrap_or(Value::Null)
    }

    /// `{type: contact, id, external_id}` plus one flag, the shape of delete/archive answers.
    pub fn reference(&self, flag: &str, value: bool) -> Value {
        json!({ "type": "contact", "id": self.id, "external_id": self.external_id, flag: value })
    }

    fn email_key(&self) -> Option<String> {
        self.email.as_ref().map(|e| e.to_ascii_lowercase())
    }
}

/// Serialises a contact in Intercom's field order without building an intermediate JSON tree.
#[derive(Debug)]
pub struct ContactView<'a> {
    c: &'a Contact,
    ws: &'a str,
    nested_limit: usize,
}

#[derive(Serialize)]
struct Addressable<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    url: String,
}

#[derive(Serialize)]
struct NestedList<T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    data: Vec<T>,
    url: String,
    total_count: usize,
    has_more: bool,
}

#[derive(Serialize)]
struct EmptyList {
    #[serde(rename = "type")]
    kind: &'static str,
    data: [(); 0],
}

impl Serialize for ContactView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.c;
        let null: Option<()> = None;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", "contact")?;
        m.serialize_entry("id", &c.id)?;
        m.serialize_entry("workspace_id", self.ws)?;
        m.serialize_entry("external_id", &c.external_id)?;
        m.serialize_entry("role", c.role.as_str())?;
        // The contact schema types email and email_domain as non-nullable strings: "" when unknown.
        m.serialize_entry("email", c.email.as_deref().unwrap_or(""))?;
        m.serialize_entry(
            "email_domain",
            c.email.as_deref().and_then(|e| e.split_once('@')).map(|(_, d)| d).unwrap_or(""),
        )?;
        m.serialize_entry("phone", &c.phone)?;
        m.serialize_entry("name", &c.name)?;
        match &c.avatar {
            Some(url) => m.serialize_entry("avatar", &json!({ "type": "avatar", "image_url": url }))?,
            None => m.serialize_entry("avatar", &null)?,
        }
        m.serialize_entry("owner_id", &c.owner_id)?;
        m.serialize_entry("social_profiles", &EmptyList { kind: "list", data: [] })?;
        m.serialize_entry("has_hard_bounced", &c.has_hard_bounced)?;
        m.serialize_entry("marked_email_as_spam", &c.marked_email_as_spam)?;
        m.serialize_entry("unsubscribed_from_emails", &c.unsubscribed_from_emails)?;
        m.serialize_entry("created_at", &c.created_at)?;
        m.serialize_entry("updated_at", &c.updated_at)?;
        m.serialize_entry("signed_up_at", &c.signed_up_at)?;
        m.serialize_entry("last_seen_at", &c.last_seen_at)?;
        m.serialize_entry("last_replied_at", &c.last_replied_at)?;
        m.serialize_entry("last_contacted_at", &c.last_contacted_at)?;
        m.serialize_entry("last_email_opened_at", &c.last_email_opened_at)?;
        m.serialize_entry("last_email_clicked_at", &c.last_email_clicked_at)?;
        m.serialize_entry("language_override", &c.language_override)?;
        m.serialize_entry("browser", &c.browser)?;
        m.serialize_entry("browser_version", &c.browser_version)?;
        m.serialize_entry("browser_language", &c.browser_language)?;
        m.serialize_entry("os", &c.os)?;
        let loc = &c.location;
        m.serialize_entry(
            "location",
            &json!({
                "type": "location",
                "country": loc.country,
                "region": loc.region,
                "city": loc.city,
                "country_code": loc.country_code,
                "continent_code": loc.continent_code,
            }),
        )?;
        for key in [
            "android_app_name",
            "android_app_version",
            "android_device",
            "android_os_version",
            "android_sdk_version",
            "android_last_seen_at",
            "ios_app_name",
            "ios_app_version",
            "ios_device",
            "ios_os_version",
            "ios_sdk_version",
            "ios_last_seen_at",
        ] {
            m.serialize_entry(key, &null)?;
        }
        m.serialize_entry("custom_attributes", &c.custom_attributes)?;
        m.serialize_entry(
            "tags",
            &NestedList {
                kind: "list",
                data: c
                    .tags
                    .iter()
                    .take(self.nested_limit)
                    .map(|(id, _)| Addressable { kind: "tag", id, url: format!("/tags/{id}") })
                    .collect(),
                url: format!("/contacts/{}/tags", c.id),
                total_count: c.tags.len(),
                has_more: c.tags.len() > self.nested_limit,
            },
        )?;
        m.serialize_entry(
            "notes",
            &NestedList::<()> {
                kind: "list",
                data: Vec::new(),
                url: format!("/contacts/{}/notes", c.id),
                total_count: 0,
                has_more: false,
            },
        )?;
        m.serialize_entry(
            "companies",
            &NestedList {
                kind: "list",
                data: c
                    .companies
                    .iter()
                    .take(self.nested_limit)
                    .map(|id| Addressable { kind: "company", id, url: format!("/companies/{id}") })
                    .collect(),
                url: format!("/contacts/{}/companies", c.id),
                total_count: c.companies.len(),
                has_more: c.companies.len() > self.nested_limit,
            },
        )?;
        for key in ["opted_out_subscription_types", "opted_in_subscription_types"] {
            m.serialize_entry(
                key,
                &NestedList::<()> {
                    kind: "list",
                    data: Vec::new(),
                    url: format!("/contacts/{}/subscriptions", c.id),
                    total_count: 0,
                    has_more: false,
                },
            )?;
        }
        for key in ["utm_campaign", "utm_content", "utm_medium", "utm_source", "utm_term", "referrer"] {
            m.serialize_entry(key, &null)?;
        }
        m.serialize_entry("enabled_push_messaging", &null)?;
        m.end()
    }
}

/// The contacts of a workspace, in insertion order, with id, external-id and e-mail indexes.
#[derive(Debug, Default)]
pub struct ContactStore {
    by_seq: BTreeMap<u64, Contact>,
    seq_of: HashMap<String, u64>,
    by_external: HashMap<String, u64>,
    by_email: HashMap<String, Vec<u64>>,
    merged_into: HashMap<String, String>,
    next_seq: u64,
}

impl ContactStore {
    /// Number of stored contacts (archived included).
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    /// True when there are no contacts.
    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    /// A contact by id, archived or not.
    pub fn get(&self, id: &str) -> Option<&Contact> {
        self.seq_of.get(id).and_then(|s| self.by_seq.get(s))
    }

    /// A live (non-archived) contact by id.
    pub fn get_live(&self, id: &str) -> Option<&Contact> {
        self.get(id).filter(|c| !c.archived)
    }

    /// A live contact by external id.
    pub fn by_external_id(&self, external_id: &str) -> Option<&Contact> {
        self.by_external.get(external_id).and_then(|s| self.by_seq.get(s)).filter(|c| !c.archived)
    }

    /// Live contacts with this e-mail (case-insensitive).
    pub fn by_email(&self, email: &str) -> impl Iterator<Item = &Contact> {
        self.by_email
            .get(&email.to_ascii_lowercase())
            .into_iter()
            .flatten()
            .filter_map(|s| self.by_seq.get(s))
            .filter(|c| !c.archived)
    }

    /// Live contacts in insertion order with their sequence numbers.
    pub fn iter_live(&self) -> impl Iterator<Item = (u64, &Contact)> + Clone {
        self.by_seq.iter().filter(|(_, c)| !c.archived).map(|(s, c)| (*s, c))
    }

    /// Number of live contacts.
    pub fn live_count(&self) -> usize {
        self.by_seq.values().filter(|c| !c.archived).count()
    }

    /// Stores a new contact.
    pub fn insert(&mut self, contact: Contact) {
        self.next_seq += 1;
        let seq = self.next_seq;
        self.index(seq, &contact);
        self.seq_of.insert(contact.id.clone(), seq);
        self.by_seq.insert(seq, contact);
    }

    fn index(&mut self, seq: u64, c: &Contact) {
        if let Some(ext) = &c.external_id {
            self.by_external.insert(ext.clone(), seq);
        }
        if let Some(email) = c.email_key() {
            self.by_email.entry(email).or_default().push(seq);
        }
    }

    fn unindex(&mut self, seq: u64, c: &Contact) {
        if let Some(ext) = &c.external_id
            && self.by_external.get(ext) == Some(&seq)
        {
            self.by_external.remove(ext);
        }
        if let Some(email) = c.email_key()
            && let Some(list) = self.by_email.get_mut(&email)
        {
            list.retain(|s| *s != seq);
            if list.is_empty() {
                self.by_email.remove(&email);
            }
        }
    }

    /// Changes a contact through `f`, keeping the indexes right.
    pub fn modify<R>(&mut self, id: &str, f: impl FnOnce(&mut Contact) -> R) -> Option<R> {
        let seq = *self.seq_of.get(id)?;
        let mut contact = self.by_seq.remove(&seq)?;
        self.unindex(seq, &contact);
        let out = f(&mut contact);
        self.index(seq, &contact);
        self.by_seq.insert(seq, contact);
        Some(out)
    }

    /// Where a merged-away contact went, following up to 3 merges as Intercom 2.16 does.
    pub fn merged_target(&self, id: &str) -> Option<&str> {
        let mut current = self.merged_into.get(id)?;
        for _ in 0..2 {
            match self.merged_into.get(current) {
                Some(next) => current = next,
                None => break,
            }
        }
        Some(current)
    }

    /// Removes a contact.
    pub fn remove(&mut self, id: &str) -> Option<Contact> {
        let seq = self.seq_of.remove(id)?;
        let contact = self.by_seq.remove(&seq)?;
        self.unindex(seq, &contact);
        Some(contact)
    }

    /// A contact other than `except` that has the same external id, or the same e-mail and role.
    fn conflict(
        &self,
        external_id: Option<&str>,
        email: Option<&str>,
        role: Role,
        except: Option<&str>,
    ) -> Option<&Contact> {
        let not_self = |c: &&Contact| except != Some(c.id.as_str());
        if let Some(ext) = external_id
            && let Some(c) = self.by_external.get(ext).and_then(|s| self.by_seq.get(s)).filter(not_self)
        {
            return Some(c);
        }
        let email = email?;
        self.by_email
            .get(&email.to_ascii_lowercase())
            .into_iter()
            .flatten()
            .filter_map(|s| self.by_seq.get(s))
            .filter(not_self)
            .find(|c| c.role == role)
    }

    /// Applies a tag to a contact (no-op if already applied).
    pub fn add_tag(&mut self, id: &str, tag_id: &str, now: i64) -> bool {
        self.modify(id, |c| {
            if c.tags.iter().any(|(t, _)| t == tag_id) {
                false
            } else {
                c.tags.push((tag_id.to_string(), now));
                true
            }
        })
        .unwrap_or(false)
    }

    /// Removes a deleted tag from every contact.
    pub fn remove_tag_everywhere(&mut self, tag_id: &str) {
        for c in self.by_seq.values_mut() {
            c.tags.retain(|(t, _)| t != tag_id);
        }
    }

    /// Detaches a deleted company from every contact.
    pub fn remove_company_everywhere(&mut self, company_id: &str) {
        for c in self.by_seq.values_mut() {
            c.companies.retain(|id| id != company_id);
        }
    }
}

/// Fields a create or update request may set.
#[derive(Debug)]
struct ContactInput {
    role: Field<Role>,
    external_id: Field<String>,
    email: Field<String>,
    phone: Field<String>,
    name: Field<String>,
    avatar: Field<String>,
    owner_id: Field<i64>,
    signed_up_at: Field<i64>,
    last_seen_at: Field<i64>,
    unsubscribed_from_emails: Field<bool>,
    language_override: Field<String>,
    custom_attributes: Option<Map<String, Value>>,
}

fn parse_input(obj: &Map<String, Value>) -> Result<ContactInput, ApiError> {
    let role = match input::string(obj, "role")? {
        Field::Set(r) => Field::Set(Role::parse(&r).ok_or_else(|| {
            ApiError::invalid(format!("role must be either 'user' or 'lead', got '{r}'")).with_field("role")
        })?),
        Field::Null => Field::Null,
        Field::Absent => Field::Absent,
    };
    let email = input::string(obj, "email")?;
    if let Field::Set(e) = &email
        && !e.is_empty()
        && !e.contains('@')
    {
        return Err(ApiError::invalid(format!("'{e}' is not a valid email address")).with_field("email"));
    }
    let custom_attributes = match obj.get("custom_attributes") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => {
            return Err(
                ApiError::invalid("custom_attributes must be an object").with_field("custom_attributes")
            );
        }
    };
    Ok(ContactInput {
        role,
        external_id: input::id_string(obj, "external_id")?,
        email,
        phone: input::string(obj, "phone")?,
        name: input::string(obj, "name")?,
        avatar: input::string(obj, "avatar")?,
        owner_id: input::integer(obj, "owner_id")?,
        signed_up_at: input::integer(obj, "signed_up_at")?,
        last_seen_at: input::integer(obj, "last_seen_at")?,
        unsubscribed_from_emails: input::boolean(obj, "unsubscribed_from_emails")?,
        language_override: input::string(obj, "language_override")?,
        custom_attributes,
    })
}

fn apply(c: &mut Contact, input: ContactInput, now: i64) {
    if let Field::Set(role) = input.role {
        c.role = role;
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = input.$f.update() { c.$f = v; } )* };
    }
    set!(external_id, email, phone, name, avatar, owner_id, signed_up_at, last_seen_at, language_override);
    if let Some(v) = input.unsubscribed_from_emails.set() {
        c.unsubscribed_from_emails = v;
    }
    if let Some(attrs) = &input.custom_attributes {
        input::merge_custom_attributes(&mut c.custom_attributes, attrs);
    }
    c.updated_at = now;
}

fn conflict_error(existing: &Contact) -> ApiError {
    let message = if existing.archived {
        format!("An archived contact matching those details already exists with id={}", existing.id)
    } else {
        format!("A contact matching those details already exists with id={}", existing.id)
    };
    ApiError::new(StatusCode::CONFLICT, "conflict", message)
}

fn created_topic(role: Role) -> &'static str {
    match role {
        Role::User => "contact.user.created",
        Role::Lead => "contact.lead.created",
    }
}

fn updated_topic(role: Role) -> &'static str {
    match role {
        Role::User => "contact.user.updated",
        Role::Lead => "contact.lead.updated",
    }
}

/// `POST /contacts`.
pub fn create(ctx: &mut Ctx<'_>) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let input = parse_input(obj)?;
    let has_identity = matches!(input.email, Field::Set(_))
        || matches!(input.external_id, Field::Set(_))
        || matches!(input.role, Field::Set(_));
    if !has_identity {
        return Err(ApiError::invalid("Request must contain at least one of email, external_id or role"));
    }
    let role = match input.role {
        Field::Set(r) => r,
        _ => Role::User,
    };
    let now = ctx.now;
    let ws = ctx.app.workspace.id.clone();
    let mut data = ctx.app.workspace.data.write();
    if let Some(attrs) = &input.custom_attributes {
        data.attributes.validate(Model::Contact, attrs)?;
    }
    let ext = match &input.external_id {
        Field::Set(e) => Some(e.as_str()),
        _ => None,
    };
    let email = match &input.email {
        Field::Set(e) => Some(e.as_str()),
        _ => None,
    };
    if let Some(existing) = data.contacts.conflict(ext, email, role, None) {
        return Err(conflict_error(existing));
    }
    let id = data.object_id(now);
    let mut contact = Contact::new(id, role, now);
    apply(&mut contact, input, now);
    if role == Role::User && contact.signed_up_at.is_none() {
        contact.signed_up_at = Some(now);
    }
    let reply = Reply::json(&contact.view(&ws))?;
    ctx.emit(created_topic(role), || contact.to_value(&ws));
    data.contacts.insert(contact);
    Ok(reply)
}

/// `GET /contacts/{id}`: the hot path of benchmarks, rendered straight from the stored contact.
///
/// A merged-away contact is 404 up to 2.15; from 2.16 it is 410 `contact_merged` with a
/// `Link: </contacts/{id}>; rel="canonical"` header naming the surviving contact.
pub fn get(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    let Some(contact) = data.contacts.get_live(id) else {
        if ctx.version >= (2, 16)
            && let Some(target) = data.contacts.merged_target(id)
        {
            let mut err = ApiError::new(
                StatusCode::GONE,
                "contact_merged",
                format!("Contact {id} was merged into contact {target}"),
            );
            err.headers.push(("link", format!("</contacts/{target}>; rel=\"canonical\"")));
            return Err(err);
        }
        return Err(ApiError::contact_not_found());
    };
    Reply::json(&contact.view(&ctx.app.workspace.id))
}

/// `GET /contacts/find_by_external_id/{external_id}` (users only, as Intercom).
pub fn find_by_external_id(ctx: &mut Ctx<'_>, external_id: &str) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    let contact = data
        .contacts
        .by_external_id(external_id)
        .filter(|c| c.role == Role::User)
        .ok_or_else(ApiError::contact_not_found)?;
    Reply::json(&contact.view(&ctx.app.workspace.id))
}

/// `PUT /contacts/{id}`.
pub fn update(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let input = parse_input(obj)?;
    let now = ctx.now;
    let ws = ctx.app.workspace.id.clone();
    let mut data = ctx.app.workspace.data.write();
    let current = data.contacts.get_live(id).ok_or_else(ApiError::contact_not_found)?;
    if let Some(attrs) = &input.custom_attributes {
        data.attributes.validate(Model::Contact, attrs)?;
    }
    let role = match input.role {
        Field::Set(r) => r,
        _ => current.role,
    };
    let ext = match &input.external_id {
        Field::Set(e) => Some(e.as_str()),
        Field::Null => None,
        Field::Absent => current.external_id.as_deref(),
    };
    let email = match &input.email {
        Field::Set(e) => Some(e.as_str()),
        Field::Null => None,
        Field::Absent => current.email.as_deref(),
    };
    if let Some(existing) = data.contacts.conflict(ext, email, role, Some(id)) {
        return Err(conflict_error(existing));
    }
    let updated = data
        .contacts
        .modify(id, |c| {
            apply(c, input, now);
            c.clone()
        })
        .ok_or_else(ApiError::contact_not_found)?;
    drop(data);
    ctx.emit(updated_topic(updated.role), || updated.to_value(&ws));
    Reply::json(&updated.view(&ws))
}

/// `DELETE /contacts/{id}`: removes the contact for good; answers the minimal reference.
pub fn delete(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let mut data = ctx.app.workspace.data.write();
    if data.contacts.get(id).is_none() {
        return Err(ApiError::contact_not_found());
    }
    let contact = data.contacts.remove(id).ok_or_else(ApiError::contact_not_found)?;
    for company_id in &contact.companies {
        data.companies.adjust_user_count(company_id, -1);
    }
    drop(data);
    ctx.emit("contact.deleted", || json!({ "type": "contact", "id": contact.id, "deleted": true }));
    Reply::json(&contact.reference("deleted", true))
}

/// `POST /contacts/{id}/archive`.
pub fn archive(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    set_archived(ctx, id, true)
}

/// `POST /contacts/{id}/unarchive`.
pub fn unarchive(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    set_archived(ctx, id, false)
}

fn set_archived(ctx: &mut Ctx<'_>, id: &str, archived: bool) -> ApiResult {
    let now = ctx.now;
    let mut data = ctx.app.workspace.data.write();
    let contact = data
        .contacts
        .modify(id, |c| {
            let changed = c.archived != archived;
            c.archived = archived;
            if changed {
                c.updated_at = now;
            }
            (c.clone(), changed)
        })
        .ok_or_else(ApiError::contact_not_found)?;
    drop(data);
    let (contact, changed) = contact;
    if changed {
        // Intercom's topic names are irregular: `contact.archived` but `contact.unarchive`.
        let topic = if archived { "contact.archived" } else { "contact.unarchive" };
        ctx.emit(topic, || contact.reference("archived", archived));
    }
    Reply::json(&contact.reference("archived", archived))
}

/// `GET /contacts`: cursor pagination in insertion order, archived contacts left out.
pub fn list(ctx: &mut Ctx<'_>) -> ApiResult {
    let per_page = input::query_u32(&ctx.query, "per_page", LIST_DEFAULT_PER_PAGE, MAX_PER_PAGE)?;
    let after = input::query_str(&ctx.query, "starting_after").map(pagination::decode_cursor).transpose()?;
    let ws = ctx.app.workspace.id.as_str();
    let data = ctx.app.workspace.data.read();
    let total = data.contacts.live_count();
    let (page, info) = pagination::page_by_key(data.contacts.iter_live(), total, per_page, after);
    // A struct rather than json!() keeps each contact's fields in Intercom's order.
    #[derive(Serialize)]
    struct Page<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        data: Vec<ContactView<'a>>,
        total_count: usize,
        pages: Value,
    }
    Reply::json(&Page {
        kind: "list",
        data: page.into_iter().map(|c| c.view(ws)).collect(),
        total_count: total,
        pages: info.pages_json(),
    })
}

/// `POST /contacts/search`: the query language is `crate::search`; this side owns data and cursor.
pub fn search(ctx: &mut Ctx<'_>) -> ApiResult {
    let body = ctx.json()?;
    let ws = &ctx.app.workspace;
    let data = ws.data.read();
    let request = search::parse_search(SearchModel::Contacts, &body, &data.attributes.types(Model::Contact))
        .map_err(search_error)?;
    let after = request.starting_after.as_deref().map(pagination::decode_cursor).transpose()?;
    let offset = utc_offset_seconds(&ws.timezone);
    // Contacts created within the search delay are not indexed yet.
    let indexed_before = ctx.now - ctx.sim.search_delay.as_secs() as i64;
    let mut hits: Vec<Value> = data
        .contacts
        .iter_live()
        .filter(|(_, c)| ctx.sim.search_delay.is_zero() || c.created_at <= indexed_before)
        .map(|(_, c)| c.to_value(&ws.id))
        .filter(|v| request.query.matches_with_offset(v, offset))
        .collect();
    drop(data);
    if let Some(sort) = &request.sort {
        hits.sort_by(|a, b| sort.compare(a, b));
    }
    let (page, info) = pagination::page_by_offset(hits, request.per_page, after);
    Reply::json(&json!({
        "type": "list",
        "data": page,
        "total_count": info.total_count,
        "pages": info.pages_json(),
    }))
}

/// Maps a search validation error to the API error Intercom returns.
pub fn search_error(e: search::SearchError) -> ApiError {
    ApiError::new(StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), e.code, e.message)
}

/// The UTC offset of a workspace timezone (standard time; common zones only, others count as UTC).
pub fn utc_offset_seconds(timezone: &str) -> i32 {
    let hours = match timezone {
        "America/Los_Angeles" | "US/Pacific" => -8,
        "America/Denver" | "US/Mountain" => -7,
        "America/Chicago" | "US/Central" => -6,
        "America/New_York" | "US/Eastern" => -5,
        "America/Sao_Paulo" => -3,
        "Europe/Paris" | "Europe/Berlin" | "Europe/Madrid" | "Europe/Amsterdam" => 1,
        "Europe/Athens" | "Europe/Helsinki" => 2,
        "Asia/Kolkata" => return 5 * 3600 + 1800,
        "Asia/Singapore" => 8,
        "Asia/Tokyo" => 9,
        "Australia/Sydney" => 10,
        _ => 0,
    };
    hours * 3600
}

/// `POST /contacts/merge` `{from: lead id, into: user id}`.
pub fn merge(ctx: &mut Ctx<'_>) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let from = input::required(obj, "from", input::id_string)?;
    let into = input::required(obj, "into", input::id_string)?;
    if from == into {
        return Err(ApiError::invalid("A contact cannot be merged into itself"));
    }
    let now = ctx.now;
    let ws = ctx.app.workspace.id.clone();
    let mut data = ctx.app.workspace.data.write();
    let lead = data.contacts.get_live(&from).ok_or_else(ApiError::contact_not_found)?;
    if lead.role != Role::Lead {
        return Err(
            ApiError::invalid("Only a contact with role 'lead' can be merged (from)").with_field("from")
        );
    }
    let user = data.contacts.get_live(&into).ok_or_else(ApiError::contact_not_found)?;
    if user.role != Role::User {
        return Err(ApiError::invalid("A lead can only be merged into a contact with role 'user' (into)")
            .with_field("into"));
    }
    let lead = data.contacts.remove(&from).ok_or_else(ApiError::contact_not_found)?;
    data.contacts.merged_into.insert(from.clone(), into.clone());
    let merged = data
        .contacts
        .modify(&into, |u| {
            // The user keeps its own values; the lead fills only what the user lacks.
            macro_rules! fill {
                ($($f:ident),*) => { $( if u.$f.is_none() { u.$f = lead.$f.clone(); } )* };
            }
            fill!(email, phone, name, avatar, owner_id, last_seen_at, browser, os, language_override);
            for (k, v) in &lead.custom_attributes {
                u.custom_attributes.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for tag in &lead.tags {
                if !u.tags.iter().any(|(t, _)| *t == tag.0) {
                    u.tags.push(tag.clone());
                }
            }
            let mut already_had = Vec::new();
            for company in &lead.companies {
                if u.companies.contains(company) {
                    already_had.push(company.clone());
                } else {
                    u.companies.push(company.clone());
                }
            }
            u.updated_at = now;
            (u.clone(), already_had)
        })
        .ok_or_else(ApiError::contact_not_found)?;
    let (user, already_had) = merged;
    // Companies both had attached lose one member: the lead is gone.
    for company in already_had {
        data.companies.adjust_user_count(&company, -1);
    }
    data.conversations.reassign_contact(&from, &user.id, user.external_id.as_deref());
    drop(data);
    ctx.emit("contact.merged", || {
        let mut item = user.to_value(&ws);
        item["merged_from"] = json!({ "type": "contact", "id": lead.id });
        item
    });
    Reply::json(&user.view(&ws))
}

/// `GET /contacts/{id}/tags`.
pub fn list_tags(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let data = ctx.app.workspace.data.read();
    let contact = data.contacts.get_live(id).ok_or_else(ApiError::contact_not_found)?;
    let admin_id = data.admins.first().map(|a| a.id.as_str()).unwrap_or_default();
    let tags: Vec<Value> = contact
        .tags
        .iter()
        .filter_map(|(tid, at)| data.tags.get(tid).map(|t| t.applied_json(*at, admin_id)))
        .collect();
    Reply::json(&json!({ "type": "list", "data": tags }))
}

/// `POST /contacts/{id}/tags` `{id: tag id}`.
pub fn attach_tag(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let tag_id = input::required(obj, "id", input::id_string)?;
    let now = ctx.now;
    let ws = ctx.app.workspace.id.clone();
    let mut data = ctx.app.workspace.data.write();
    if data.contacts.get_live(id).is_none() {
        return Err(ApiError::contact_not_found());
    }
    let tag = data.tags.get(&tag_id).cloned().ok_or_else(ApiError::resource_not_found)?;
    let added = data.contacts.add_tag(id, &tag.id, now);
    let admin_id = data.admins.first().map(|a| a.id.clone()).unwrap_or_default();
    let contact = data.contacts.get(id).cloned().ok_or_else(ApiError::contact_not_found)?;
    drop(data);
    let applied_at = contact.tags.iter().find(|(t, _)| *t == tag.id).map(|(_, at)| *at).unwrap_or(now);
    if added {
        let topic = match contact.role {
            Role::User => "contact.user.tag.created",
            Role::Lead => "contact.lead.tag.created",
        };
        ctx.emit(topic, || contact_tag_item(&contact, &ws, &tag, now));
    }
    Reply::json(&tag.applied_json(applied_at, &admin_id))
}

/// `DELETE /contacts/{id}/tags/{tag_id}`.
pub fn detach_tag(ctx: &mut Ctx<'_>, id: &str, tag_id: &str) -> ApiResult {
    let now = ctx.now;
    let ws = ctx.app.workspace.id.clone();
    let mut data = ctx.app.workspace.data.write();
    if data.contacts.get_live(id).is_none() {
        return Err(ApiError::contact_not_found());
    }
    let tag = data.tags.get(tag_id).cloned().ok_or_else(ApiError::resource_not_found)?;
    let removed = data
        .contacts
        .modify(id, |c| {
            let at = c.tags.iter().find(|(t, _)| *t == tag.id).map(|(_, at)| *at);
            c.tags.retain(|(t, _)| *t != tag.id);
            (at, c.clone())
        })
        .ok_or_else(ApiError::contact_not_found)?;
    let admin_id = data.admins.first().map(|a| a.id.clone()).unwrap_or_default();
    drop(data);
    let (applied_at, contact) = removed;
    if applied_at.is_some() {
        let topic = match contact.role {
            Role::User => "contact.user.tag.deleted",
            Role::Lead => "contact.lead.tag.deleted",
        };
        ctx.emit(topic, || contact_tag_item(&contact, &ws, &tag, now));
    }
    Reply::json(&tag.applied_json(applied_at.unwrap_or(now), &admin_id))
}

fn contact_tag_item(contact: &Contact, ws: &str, tag: &crate::tags::Tag, now: i64) -> Value {
    json!({
        "type": "contact_tag",
        "created_at": now,
        "tag": { "id": tag.id, "name": tag.name, "type": "tag" },
        "contact": contact.to_value(ws),
    })
}
