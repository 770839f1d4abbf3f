//! Data attributes: the schema of contact and company attributes, built-in and custom.

use serde::{Deserialize, Serialize};

use super::{Extra, de, lenient_enum};

lenient_enum!(
    /// The value type of a data attribute.
    DataType {
        /// Text up to 255 characters.
        String => "string",
        /// Whole number.
        Integer => "integer",
        /// Any number.
        Float => "float",
        /// true or false.
        Boolean => "boolean",
        /// Epoch seconds.
        Date => "date",
        /// Epoch seconds (create requests only).
        Datetime => "datetime",
    }
);

lenient_enum!(
    /// The object a data attribute describes.
    AttributeModel {
        /// People.
        Contact => "contact",
        /// Companies.
        Company => "company",
        /// Conversations.
        Conversation => "conversation",
    }
);

/// A data attribute.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct DataAttribute {
    /// `data_attribute`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Id (custom attributes only).
    #[serde(default, deserialize_with = "de::opt_id")]
    pub id: Option<String>,
    /// Which model.
    #[serde(default)]
    pub model: Option<AttributeModel>,
    /// Name (the key in `custom_attributes` for custom ones).
    #[serde(default)]
    pub name: Option<String>,
    /// Full path, e.g. `custom_attributes.plan`.
    #[serde(default)]
    pub full_name: Option<String>,
    /// Label shown in Intercom.
    #[serde(default)]
    pub label: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Value type.
    #[serde(default)]
    pub data_type: Option<DataType>,
    /// Allowed values of a list attribute.
    #[serde(default)]
    pub options: Option<Vec<serde_json::Value>>,
    /// Writable through the API.
    #[serde(default)]
    pub api_writable: Option<bool>,
    /// Writable from the Messenger.
    #[serde(default)]
    pub messenger_writable: Option<bool>,
    /// Writable in the Intercom UI.
    #[serde(default)]
    pub ui_writable: Option<bool>,
    /// A custom data attribute (as opposed to a built-in one).
    #[serde(default)]
    pub custom: Option<bool>,
    /// Archived attributes cannot be written.
    #[serde(default)]
    pub archived: Option<bool>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub created_at: Option<i64>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub updated_at: Option<i64>,
    /// Creating admin.
    #[serde(default, deserialize_with = "de::opt_id")]
    pub admin_id: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The body of `POST /data_attributes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewDataAttribute {
    /// Name (alphanumerics, currency symbols and hyphens).
    pub name: String,
    /// `contact` or `company`.
    pub model: AttributeModel,
    /// Value type.
    pub data_type: DataType,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Writable from the Messenger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messenger_writable: Option<bool>,
}
