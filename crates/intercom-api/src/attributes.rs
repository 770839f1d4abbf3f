//! Custom attribute validation before any write.
//!
//! Intercom rejects writes of undefined custom attributes, and wrongly typed or oversized values,
//! with opaque 400s (facts sheet §7, complaint §14.7). The client checks them first against the
//! workspace's schema from `GET /data_attributes?model=contact|company` (cached with a TTL) and
//! reports every problem at once, sending nothing.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::models::{AttributeModel, DataAttribute, DataType};
use crate::search::FieldType;

/// Longest string value Intercom stores in a custom attribute.
pub const MAX_STRING_CHARS: usize = 255;

/// The custom attributes of one model, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeSchema {
    model: AttributeModel,
    custom: HashMap<String, CustomAttribute>,
}

#[derive(Debug, Clone, PartialEq)]
struct CustomAttribute {
    data_type: Option<DataType>,
    archived: bool,
    api_writable: bool,
}

impl AttributeSchema {
    /// Builds the schema from `GET /data_attributes` (built-in attributes are ignored).
    pub fn new(model: AttributeModel, attributes: &[DataAttribute]) -> Self {
        let custom = attributes
            .iter()
            .filter(|a| {
                a.custom == Some(true)
                    || a.full_name.as_deref().is_some_and(|f| f.starts_with("custom_attributes."))
            })
            .filter_map(|a| {
                let name = a.name.clone()?;
                Some((
                    name,
                    CustomAttribute {
                        data_type: a.data_type.clone(),
                        archived: a.archived == Some(true),
                        api_writable: a.api_writable != Some(false),
                    },
                ))
            })
            .collect();
        Self { model, custom }
    }

    /// The model this schema describes.
    pub fn model(&self) -> &AttributeModel {
        &self.model
    }

    /// The search type of a live custom attribute.
    pub fn field_type(&self, name: &str) -> Option<FieldType> {
        let attr = self.custom.get(name).filter(|a| !a.archived)?;
        Some(match attr.data_type.as_ref()? {
            DataType::String | DataType::Unknown(_) => FieldType::String,
            DataType::Integer => FieldType::Integer,
            DataType::Float => FieldType::Float,
            DataType::Boolean => FieldType::Boolean,
            DataType::Date | DataType::Datetime => FieldType::Date,
        })
    }

    /// Checks a `custom_attributes` object; lists every problem.
    pub fn validate(&self, attributes: &Map<String, Value>) -> Result<(), AttributeErrors> {
        let mut problems = Vec::new();
        for (name, value) in attributes {
            if let Some(bad) = name.chars().find(|c| *c == '.' || *c == '$') {
                problems.push(AttributeProblem::InvalidName { name: name.clone(), character: bad });
                continue;
            }
            if matches!(value, Value::Object(_) | Value::Array(_)) {
                problems.push(AttributeProblem::Nested { name: name.clone() });
                continue;
            }
            let Some(attr) = self.custom.get(name) else {
                problems.push(AttributeProblem::Undefined { name: name.clone() });
                continue;
            };
            if attr.archived {
                problems.push(AttributeProblem::Archived { name: name.clone() });
                continue;
            }
            if !attr.api_writable {
                problems.push(AttributeProblem::NotWritable { name: name.clone() });
                continue;
            }
            if let Some(expected) = &attr.data_type
                && !type_accepts(expected, value)
            {
                problems.push(AttributeProblem::WrongType {
                    name: name.clone(),
                    expected: expected.to_string(),
                    found: json_type(value),
                });
                continue;
            }
            if let Value::String(s) = value {
                let chars = s.chars().count();
                if chars > MAX_STRING_CHARS {
                    problems.push(AttributeProblem::TooLong { name: name.clone(), chars });
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AttributeErrors { model: self.model.to_string(), problems })
        }
    }

    /// Whether some problem is an undefined name (worth one schema refresh: it may be new).
    pub(crate) fn has_undefined(errors: &AttributeErrors) -> bool {
        errors.problems.iter().any(|p| matches!(p, AttributeProblem::Undefined { .. }))
    }
}

fn type_accepts(expected: &DataType, value: &Value) -> bool {
    match (expected, value) {
        (_, Value::Null) => true,
        (DataType::String, Value::String(_)) => true,
        (DataType::Integer | DataType::Date | DataType::Datetime, Value::Number(n)) => {
            n.is_i64() || n.is_u64()
        }
        (DataType::Float, Value::Number(_)) => true,
        (DataType::Boolean, Value::Bool(_)) => true,
        // A type this crate does not know: let Intercom judge.
        (DataType::Unknown(_), _) => true,
        _ => false,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One thing wrong with a custom attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeProblem {
    /// No such custom attribute: create it with `POST /data_attributes` first.
    Undefined {
        /// Attribute name.
        name: String,
    },
    /// The attribute is archived and cannot be written.
    Archived {
        /// Attribute name.
        name: String,
    },
    /// The attribute is not writable through the API.
    NotWritable {
        /// Attribute name.
        name: String,
    },
    /// The value's type does not match the attribute's.
    WrongType {
        /// Attribute name.
        name: String,
        /// The attribute's type.
        expected: String,
        /// The value's JSON type.
        found: &'static str,
    },
    /// A string longer than 255 characters.
    TooLong {
        /// Attribute name.
        name: String,
        /// Its length in characters.
        chars: usize,
    },
    /// An object or array value: custom attributes are flat.
    Nested {
        /// Attribute name.
        name: String,
    },
    /// `.` or `$` in the name.
    InvalidName {
        /// Attribute name.
        name: String,
        /// The forbidden character.
        character: char,
    },
}

impl AttributeProblem {
    /// The attribute concerned.
    pub fn name(&self) -> &str {
        match self {
            AttributeProblem::Undefined { name }
            | AttributeProblem::Archived { name }
            | AttributeProblem::NotWritable { name }
            | AttributeProblem::WrongType { name, .. }
            | AttributeProblem::TooLong { name, .. }
            | AttributeProblem::Nested { name }
            | AttributeProblem::InvalidName { name, .. } => name,
        }
    }
}

impl fmt::Display for AttributeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeProblem::Undefined { name } => {
                write!(f, "{name:?} is not defined (create it with POST /data_attributes first)")
            }
            AttributeProblem::Archived { name } => write!(f, "{name:?} is archived"),
            AttributeProblem::NotWritable { name } => write!(f, "{name:?} is not writable through the API"),
            AttributeProblem::WrongType { name, expected, found } => {
                write!(f, "{name:?} must be of type {expected}, got {found}")
            }
            AttributeProblem::TooLong { name, chars } => {
                write!(f, "{name:?} is {chars} characters long; at most {MAX_STRING_CHARS} are stored")
            }
            AttributeProblem::Nested { name } => {
                write!(f, "{name:?} has a nested value; only flat values are allowed")
            }
            AttributeProblem::InvalidName { name, character } => {
                write!(f, "{name:?} contains {character:?}, which attribute names may not contain")
            }
        }
    }
}

/// Every problem found in one `custom_attributes` object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AttributeErrors {
    /// `contact` or `company`.
    pub model: String,
    /// The problems, in the object's key order.
    pub problems: Vec<AttributeProblem>,
}

impl fmt::Display for AttributeErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} invalid {} custom attribute(s): ", self.problems.len(), self.model)?;
        for (n, p) in self.problems.iter().enumerate() {
            if n > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> AttributeSchema {
        let attrs: Vec<DataAttribute> = serde_json::from_value(json!([
            {"name": "email", "data_type": "string", "custom": false},
            {"name": "plan", "full_name": "custom_attributes.plan", "data_type": "string", "custom": true},
            {"name": "seats", "data_type": "integer", "custom": true},
            {"name": "mrr", "data_type": "float", "custom": true},
            {"name": "old", "data_type": "string", "custom": true, "archived": true},
            {"name": "future", "data_type": "geo_point", "custom": true}
        ]))
        .expect("valid attributes");
        AttributeSchema::new(AttributeModel::Contact, &attrs)
    }

    #[test]
    fn lists_every_problem() {
        let attrs = json!({
            "plan": "x".repeat(256), "seats": "ten", "mrr": 9, "email": "a", "old": "v",
            "a.b": 1, "deep": {"x": 1}, "future": [1]
        });
        let e = schema().validate(attrs.as_object().expect("object")).unwrap_err();
        let names: Vec<&str> = e.problems.iter().map(AttributeProblem::name).collect();
        assert_eq!(names, vec!["a.b", "deep", "email", "future", "old", "plan", "seats"]);
        let shown = e.to_string();
        assert!(shown.starts_with("7 invalid contact custom attribute(s)"), "{shown}");
        assert!(shown.contains("\"seats\" must be of type integer, got string"), "{shown}");
        assert!(shown.contains("256 characters"), "{shown}");
    }

    #[test]
    fn valid_values_pass_and_null_clears() {
        let attrs = json!({"plan": "pro", "seats": 3, "mrr": 9.5, "future": "anything", "seats2": null});
        let mut map = attrs.as_object().expect("object").clone();
        map.remove("seats2");
        map.insert("plan".into(), Value::Null);
        assert_eq!(schema().validate(&map), Ok(()));
        assert_eq!(schema().field_type("seats"), Some(FieldType::Integer));
        assert_eq!(schema().field_type("old"), None);
    }
}
