//! Data attributes: `GET /data_attributes`, `POST /data_attributes`, `PUT /data_attributes/{id}`,
//! and the validation of `custom_attributes` written to contacts and companies.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::api::{ApiResult, Ctx, Reply};
use crate::errors::ApiError;
use crate::input;
use crate::search::{AttributeType, AttributeTypes};

/// Custom data attributes allowed per workspace (archived ones do not count).
pub const MAX_CUSTOM_ATTRIBUTES: usize = 250;

/// Longest string value Intercom stores in a custom attribute.
pub const MAX_STRING_LEN: usize = 255;

/// What a data attribute describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// People.
    Contact,
    /// Companies.
    Company,
}

impl Model {
    /// Parses `contact` or `company`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "contact" => Some(Model::Contact),
            "company" => Some(Model::Company),
            _ => None,
        }
    }

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Contact => "contact",
            Model::Company => "company",
        }
    }

    /// Intercom's word for the model in duplicate-name messages.
    fn data_word(self) -> &'static str {
        match self {
            Model::Contact => "people",
            Model::Company => "company",
        }
    }
}

/// The type of a custom attribute's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// Up to 255 characters.
    String,
    /// Whole number.
    Integer,
    /// Any number.
    Float,
    /// true/false.
    Boolean,
    /// Unix seconds (`datetime` on create).
    Date,
}

impl DataType {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "string" => Some(DataType::String),
            "integer" => Some(DataType::Integer),
            "float" => Some(DataType::Float),
            "boolean" => Some(DataType::Boolean),
            "date" | "datetime" => Some(DataType::Date),
            _ => None,
        }
    }

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Integer => "integer",
            DataType::Float => "float",
            DataType::Boolean => "boolean",
            DataType::Date => "date",
        }
    }

    fn search_type(self) -> AttributeType {
        match self {
            DataType::String => AttributeType::String,
            DataType::Integer => AttributeType::Integer,
            DataType::Float => AttributeType::Float,
            DataType::Boolean => AttributeType::Boolean,
            DataType::Date => AttributeType::Date,
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) => true,
            (DataType::String, Value::String(_)) => true,
            (DataType::Integer | DataType::Date, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (DataType::Float, Value::Number(_)) => true,
            (DataType::Boolean, Value::Bool(_)) => true,
            _ => false,
        }
    }
}

/// A custom data attribute.
#[derive(Debug, Clone)]
pub struct CustomAttribute {
    /// Numeric id.
    pub id: i64,
    /// Model.
    pub model: Model,
    /// Name (the key in `custom_attributes`).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Value type.
    pub data_type: DataType,
    /// Allowed values of a list attribute.
    pub options: Vec<String>,
    /// Writable from the Messenger.
    pub messenger_writable: bool,
    /// Archived attributes cannot be written and do not count against the limit.
    pub archived: bool,
    /// Creating admin.
    pub admin_id: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds.
    pub updated_at: i64,
}

impl CustomAttribute {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "type": "data_attribute",
            "name": self.name,
            "full_name": format!("custom_attributes.{}", self.name),
            "label": self.name,
            "description": self.description.clone().unwrap_or_default(),
            "data_type": self.data_type.as_str(),
            "api_writable": true,
            "ui_writable": false,
            "messenger_writable": self.messenger_writable,
            "custom": true,
            "archived": self.archived,
            "admin_id": self.admin_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "model": self.model.as_str(),
        });
        if !self.options.is_empty() {
            v["options"] = json!(self.options);
        }
        v
    }
}

/// (name, full_name, label, data_type, api_writable) of Intercom's built-in contact attributes.
const CONTACT_BUILTINS: &[(&str, &str, &str, &str, bool)] = &[
    ("name", "name", "Name", "string", true),
    ("email", "email", "Email", "string", true),
    ("phone", "phone", "Phone", "string", true),
    ("external_id", "external_id", "User ID", "string", true),
    ("role", "role", "Role", "string", true),
    ("owner_id", "owner_id", "Owner", "integer", true),
    ("unsubscribed_from_emails", "unsubscribed_from_emails", "Unsubscribed from emails", "boolean", true),
    ("created_at", "created_at", "Created at", "date", false),
    ("signed_up_at", "signed_up_at", "Signed up", "date", true),
    ("last_seen_at", "last_seen_at", "Last seen", "date", true),
    ("updated_at", "updated_at", "Updated at", "date", false),
    ("country", "location.country", "Country", "string", false),
    ("city", "location.city", "City", "string", false),
    ("browser", "browser", "Browser", "string", false),
    ("os", "os", "OS", "string", false),
];

/// The same for companies, as the 2.15 example lists them.
const COMPANY_BUILTINS: &[(&str, &str, &str, &str, bool)] = &[
    ("name", "name", "Company name", "string", true),
    ("company_id", "company_id", "Company ID", "string", false),
    ("last_request_at", "last_request_at", "Company last seen", "date", false),
    ("remote_created_at", "remote_created_at", "Company created at", "date", true),
    ("user_count", "user_count", "People", "integer", false),
    ("session_count", "session_count", "Company web sessions", "integer", false),
    ("name", "plan.name", "Plan", "string", false),
    ("monthly_spend", "monthly_spend", "Monthly Spend", "float", true),
    ("size", "size", "Company size", "integer", true),
    ("industry", "industry", "Company industry", "string", true),
    ("website", "website", "Company website", "string", true),
    ("id", "id", "ID", "string", false),
    ("created_at", "created_at", "Created at", "date", false),
    ("updated_at", "updated_at", "Updated at", "date", false),
];

fn builtins(model: Model) -> &'static [(&'static str, &'static str, &'static str, &'static str, bool)] {
    match model {
        Model::Contact => CONTACT_BUILTINS,
        Model::Company => COMPANY_BUILTINS,
    }
}

fn builtin_json(model: Model, b: &(&str, &str, &str, &str, bool)) -> Value {
    json!({
        "type": "data_attribute",
        "name": b.0,
        "full_name": b.1,
        "label": b.2,
        "description": b.2,
        "data_type": b.3,
        "api_writable": b.4,
        "ui_writable": false,
        "messenger_writable": true,
        "custom": false,
        "archived": false,
        "model": model.as_str(),
    })
}

/// The custom data attributes of a workspace.
#[derive(Debug, Default)]
pub struct AttributeStore {
    custom: Vec<CustomAttribute>,
    next_id: i64,
}

impl AttributeStore {
    /// Adds a custom attribute without validation (seeding).
    pub fn insert(&mut self, model: Model, name: &str, data_type: DataType, admin_id: &str, now: i64) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.custom.push(CustomAttribute {
            id,
            model,
            name: name.to_string(),
            description: None,
            data_type,
            options: Vec::new(),
            messenger_writable: false,
            archived: false,
            admin_id: admin_id.to_string(),
            created_at: now,
            updated_at: now,
        });
        id
    }

    /// The live (non-archived) attribute of `model` named `name`.
    pub fn find(&self, model: Model, name: &str) -> Option<&CustomAttribute> {
        self.custom.iter().find(|a| a.model == model && !a.archived && a.name == name)
    }

    /// Custom attributes of a model, for type lookups during search.
    pub fn types(&self, model: Model) -> ModelAttributeTypes<'_> {
        ModelAttributeTypes { store: self, model }
    }

    /// Checks a `custom_attributes` object against the schema: every key defined, every value of
    /// the attribute's type, strings at most 255 characters.
    pub fn validate(&self, model: Model, attrs: &Map<String, Value>) -> Result<(), ApiError> {
        for (name, value) in attrs {
            let Some(attr) = self.find(model, name) else {
                return Err(ApiError::invalid(format!(
                    "Custom attribute '{name}' does not exist; create it with POST /data_attributes first"
                ))
                .with_field(format!("custom_attributes.{name}")));
            };
            if !attr.data_type.accepts(value) {
                return Err(ApiError::invalid(format!(
                    "Custom attribute '{name}' must be of type {} but got {}",
                    attr.data_type.as_str(),
                    json_type(value)
                ))
                .with_field(format!("custom_attributes.{name}")));
            }
            if let Value::String(s) = value
                && s.chars().count() > MAX_STRING_LEN
            {
                {
                    return Err(ApiError::invalid(format!(
                        "Custom attribute '{name}' is too long: string values are limited to {MAX_STRING_LEN} characters"
                    ))
                    .with_field(format!("custom_attributes.{name}")));
                }
            }
        }
        Ok(())
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// [`AttributeTypes`] over one model's custom attributes, for the search parser.
#[derive(Debug)]
pub struct ModelAttributeTypes<'a> {
    store: &'a AttributeStore,
    model: Model,
}

impl AttributeTypes for ModelAttributeTypes<'_> {
    fn attribute_type(&self, name: &str) -> Option<AttributeType> {
        self.store.find(self.model, name).map(|a| a.data_type.search_type())
    }
}

/// `GET /data_attributes?model=contact|company&include_archived=true`.
pub fn list(ctx: &mut Ctx<'_>) -> ApiResult {
    let models: Vec<Model> = match input::query_str(&ctx.query, "model") {
        None => vec![Model::Contact, Model::Company],
        Some(m) => vec![Model::parse(m).ok_or_else(|| {
            ApiError::invalid("The Data Attribute model field must be either contact or company")
                .with_field("model")
        })?],
    };
    let include_archived = input::query_str(&ctx.query, "include_archived") == Some("true");
    let data = ctx.app.workspace.data.read();
    let mut out = Vec::new();
    for model in models {
        out.extend(builtins(model).iter().map(|b| builtin_json(model, b)));
        out.extend(
            data.attributes
                .custom
                .iter()
                .filter(|a| a.model == model && (include_archived || !a.archived))
                .map(CustomAttribute::to_json),
        );
    }
    Reply::json(&json!({ "type": "list", "data": out }))
}

fn valid_name(name: &str) -> bool {
    const CURRENCY: &[char] = &['£', '€', '¥', '¢', '₹', '₽', '₩', '₪', '₫', '₱', '₺', '₴', '₦'];
    !name.trim().is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '_' || CURRENCY.contains(&c))
}

/// `POST /data_attributes`.
pub fn create(ctx: &mut Ctx<'_>) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let model = input::string(obj, "model")?.set().and_then(|m| Model::parse(&m)).ok_or_else(|| {
        ApiError::invalid("The Data Attribute model field must be either contact or company")
    })?;
    let name = input::required(obj, "name", input::string)?;
    if !valid_name(&name) {
        return Err(ApiError::invalid(
            "Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens",
        ));
    }
    let options: Vec<String> = match obj.get("options") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|o| o.get("value").and_then(Value::as_str).map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ApiError::invalid("Each option must be an object with a string 'value'"))?,
        Some(_) => {
            return Err(ApiError::invalid("options must be an array of {\"value\": ...} objects"));
        }
    };
    let data_type = match input::string(obj, "data_type")?.set() {
        Some(t) if t == "options" && !options.is_empty() => DataType::String,
        Some(t) => DataType::parse(&t).ok_or_else(|| ApiError::invalid("Data Type isn't an option"))?,
        None if !options.is_empty() => DataType::String,
        None => return Err(ApiError::invalid("Data Type isn't an option")),
    };
    if obj.contains_key("options") && options.len() < 2 {
        return Err(ApiError::invalid("A list attribute needs at least 2 options"));
    }
    let description = input::string(obj, "description")?.set();
    let messenger_writable = input::boolean(obj, "messenger_writable")?.set().unwrap_or(false);

    let now = ctx.now;
    let mut data = ctx.app.workspace.data.write();
    // Names clash with the model's built-ins and with custom attributes of either model.
    let existing = if builtins(model).iter().any(|b| b.0.eq_ignore_ascii_case(&name)) {
        Some(model)
    } else {
        data.attributes
            .custom
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case(&name))
            .map(|a| a.model)
            .min_by_key(|m| *m != model)
    };
    if let Some(existing_model) = existing {
        return Err(ApiError::invalid(format!(
            "You already have '{name}' in your {} data. To save this as new {} data, use a different name.",
            existing_model.data_word(),
            model.data_word()
        )));
    }
    let live = data.attributes.custom.iter().filter(|a| !a.archived).count();
    if live >= MAX_CUSTOM_ATTRIBUTES {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "custom_data_limit_reached",
            format!(
                "You have reached the limit of {MAX_CUSTOM_ATTRIBUTES} custom data attributes for this workspace. Archive attributes you no longer need to create new ones."
            ),
        ));
    }
    let admin_id = data.admins.first().map(|a| a.id.clone()).unwrap_or_default();
    let id = data.attributes.insert(model, &name, data_type, &admin_id, now);
    let attr = data.attributes.custom.iter_mut().find(|a| a.id == id).ok_or_else(|| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "attribute vanished")
    })?;
    attr.description = description;
    attr.options = options;
    attr.messenger_writable = messenger_writable;
    Reply::json(&attr.to_json())
}

/// `PUT /data_attributes/{id}`: archive, describe, or change options (never the type).
pub fn update(ctx: &mut Ctx<'_>, id: &str) -> ApiResult {
    let body = ctx.json()?;
    let obj = input::object(&body)?;
    let not_found =
        || ApiError::not_found("field_not_found", "We couldn't find that data attribute to update");
    let id: i64 = id.parse().map_err(|_| not_found())?;
    if obj.contains_key("data_type") {
        return Err(ApiError::invalid("The data type of a data attribute cannot be changed through the API"));
    }
    let archived = input::boolean(obj, "archived")?.set();
    let description = input::string(obj, "description")?.update();
    let messenger_writable = input::boolean(obj, "messenger_writable")?.set();
    let now = ctx.now;
    let mut data = ctx.app.workspace.data.write();
    if archived == Some(false) {
        let live = data.attributes.custom.iter().filter(|a| !a.archived).count();
        let is_archived = data.attributes.custom.iter().any(|a| a.id == id && a.archived);
        if is_archived && live >= MAX_CUSTOM_ATTRIBUTES {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "custom_data_limit_reached",
                format!(
                    "Unarchiving would exceed the limit of {MAX_CUSTOM_ATTRIBUTES} custom data attributes"
                ),
            ));
        }
    }
    let attr = data.attributes.custom.iter_mut().find(|a| a.id == id).ok_or_else(not_found)?;
    if let Some(a) = archived {
        attr.archived = a;
    }
    if let Some(d) = description {
        attr.description = d;
    }
    if let Some(m) = messenger_writable {
        attr.messenger_writable = m;
    }
    attr.updated_at = now;
    Reply::json(&attr.to_json())
}
