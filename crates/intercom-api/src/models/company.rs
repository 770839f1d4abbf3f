//! Companies, the company upsert body and the scroll page.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Extra, NestedList, body_setters, de};

/// A company.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Company {
    /// `company`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Intercom's id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// Your id for the company (immutable once set).
    #[serde(default, deserialize_with = "de::opt_id")]
    pub company_id: Option<String>,
    /// Workspace id.
    #[serde(default)]
    pub app_id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Plan.
    #[serde(default)]
    pub plan: Option<CompanyPlan>,
    /// Epoch seconds, as you set it.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub remote_created_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub updated_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub last_request_at: Option<i64>,
    /// Employees.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub size: Option<i64>,
    /// Website.
    #[serde(default)]
    pub website: Option<String>,
    /// Industry.
    #[serde(default)]
    pub industry: Option<String>,
    /// Revenue (an integer in the spec, a float in practice).
    #[serde(default)]
    pub monthly_spend: Option<f64>,
    /// Web sessions.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub session_count: Option<i64>,
    /// Contacts attached.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub user_count: Option<i64>,
    /// Custom attributes.
    #[serde(default)]
    pub custom_attributes: Map<String, Value>,
    /// Tags (`{type: tag.list, tags: [...]}` at Intercom).
    #[serde(default)]
    pub tags: Option<Value>,
    /// Segments.
    #[serde(default)]
    pub segments: Option<NestedList>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A company's plan.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct CompanyPlan {
    /// Plan id.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// Plan name.
    #[serde(default)]
    pub name: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The body of `POST /companies`: creates the company or updates the one with this `company_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewCompany {
    /// Your id for the company (required).
    pub company_id: String,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Plan name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Employees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Website.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Industry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// Revenue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_spend: Option<f64>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_created_at: Option<i64>,
    /// Custom attributes (validated before sending).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub custom_attributes: Map<String, Value>,
}

impl NewCompany {
    /// A company with your id.
    pub fn new(company_id: impl Into<String>) -> Self {
        Self { company_id: company_id.into(), ..Self::default() }
    }

    body_setters! {
        /// Sets the name.
        name: String,
    }
}

/// The body of `PUT /companies/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CompanyUpdate {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Plan name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Employees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Custom attributes (validated before sending).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub custom_attributes: Map<String, Value>,
}

/// One page of `GET /companies/scroll`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct CompanyScrollPage {
    /// The companies; empty once the end is reached.
    #[serde(default)]
    pub data: Vec<Company>,
    /// The parameter for the next page (the same value on every page).
    #[serde(default)]
    pub scroll_param: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}
