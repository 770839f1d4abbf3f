//! Typed, lenient models of Intercom's JSON.
//!
//! Real responses differ from the OpenAPI description (facts sheet §14.1), so every model:
//! - keeps fields it does not know in `extra` (a flattened map), so nothing is lost;
//! - makes fields `Option` that the spec calls required but real payloads omit or send as `null`;
//! - decodes enums leniently: an unknown value becomes `Unknown(String)` instead of an error;
//! - accepts ids as strings or numbers (Intercom sends both).

pub mod admin;
pub mod company;
pub mod contact;
pub mod conversation;
pub mod data_attribute;
pub mod error;
pub mod event;
pub mod list;
pub mod tag;

pub use admin::{Admin, AdminList, App, Avatar, Me};
pub use company::{Company, CompanyPlan, CompanyScrollPage, CompanyUpdate, NewCompany};
pub use contact::{
    Contact, ContactLocation, ContactReference, ContactUpdate, NestedList, NestedRef, NewContact, Role,
    SocialProfiles,
};
pub use conversation::{
    Conversation, ConversationAuthor, ConversationPart, ConversationParts, ConversationSource,
    NewConversation, Priority, Reply, ReplyType, State,
};
pub use data_attribute::{AttributeModel, DataAttribute, DataType, NewDataAttribute};
pub use error::{ErrorItem, ErrorList};
pub use event::{EventSummary, EventSummaryList, NewEvent};
pub use list::{ListPage, NextPage, Pages};
pub use tag::{AppliedTag, Tag, TagList};

/// Unknown fields of a model, kept verbatim.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Declares a string enum that decodes unknown values into `Unknown(String)` and encodes back to
/// the same string, so a new value from Intercom never fails a whole response.
macro_rules! lenient_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of the crate does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Unknown(other) => other.as_str(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)+
                    other => $name::Unknown(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Ok($name::from(s.as_ref()))
            }
        }
    };
}
pub(crate) use lenient_enum;

/// Declares the chained setters of a request body: `field(value)` stores `Some(value.into())` in
/// `field`, and `attribute(name, value)` sets one custom attribute.
macro_rules! body_setters {
    ($($(#[$meta:meta])* $field:ident: $ty:ty),* $(,)?) => {
        $(
            $(#[$meta])*
            pub fn $field(mut self, $field: impl Into<$ty>) -> Self {
                self.$field = Some($field.into());
                self
            }
        )*

        /// Sets one custom attribute.
        pub fn attribute(mut self, name: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
            self.custom_attributes.insert(name.into(), value.into());
            self
        }
    };
}
pub(crate) use body_setters;

/// Serde helpers for Intercom's inconsistent scalar types.
pub(crate) mod de {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// An id sent as a string or a number (or null), as a string.
    pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    }

    /// A list of ids sent as strings or numbers.
    pub fn id_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
    }

    /// An integer that may arrive as a number, a numeric string, or null.
    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    lenient_enum!(
        /// Test enum.
        Colour { Red => "red", Blue => "blue" }
    );

    #[test]
    fn unknown_enum_values_are_kept() {
        let c: Colour = serde_json::from_str("\"green\"").expect("lenient");
        assert_eq!(c, Colour::Unknown("green".into()));
        assert_eq!(serde_json::to_string(&c).expect("encodes"), "\"green\"");
        let r: Colour = serde_json::from_str("\"red\"").expect("known");
        assert_eq!(r, Colour::Red);
    }
}
