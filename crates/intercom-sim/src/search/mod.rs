//! Intercom's search query language (`POST /contacts/search`, `POST /conversations/search`).
//!
//! Pure: [`parse_search`] turns a request body into a validated [`SearchRequest`] or the 400 error
//! Intercom gives, [`Filter::matches`] evaluates the query against a contact or conversation as JSON,
//! and [`Sort::compare`] orders results. The server owns the data, the pagination cursor and the
//! workspace timezone.
//!
//! Semantics follow the 2.15 description and the facts sheet (§5.3): operators are checked per field
//! type, `IN`/`NIN` take arrays, groups nest at most 2 levels and hold at most 15 filters, dates are
//! compared by calendar day in the workspace timezone, string comparisons ignore case, and
//! `source.body` on conversations is matched word by word.

mod eval;
mod fields;
mod parse;

use std::collections::HashMap;
use std::fmt;

pub use parse::parse_search;

/// The resource a search runs over; it decides the field list and the default page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchModel {
    /// `POST /contacts/search`.
    Contacts,
    /// `POST /conversations/search`.
    Conversations,
}

impl SearchModel {
    /// The page size when the body has no `pagination.per_page` (contacts 50, conversations 20).
    pub fn default_per_page(self) -> u32 {
        match self {
            SearchModel::Contacts => 50,
            SearchModel::Conversations => 20,
        }
    }
}

/// The largest `pagination.per_page` Intercom accepts on any endpoint.
pub const MAX_PER_PAGE: u32 = 150;

/// Group depth allowed by Intercom ("a limit of max 2 nested filters"): the top-level group is depth 1.
pub const MAX_GROUP_DEPTH: usize = 2;

/// Filters allowed directly inside one `AND`/`OR` group.
pub const MAX_FILTERS_PER_GROUP: usize = 15;

/// The data type of a field or custom data attribute, as `GET /data_attributes` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeType {
    /// `string` (also list attributes, whose values are strings).
    String,
    /// `integer`.
    Integer,
    /// `float`.
    Float,
    /// `boolean`.
    Boolean,
    /// `date` (UNIX seconds; `datetime` attributes are stored as dates).
    Date,
}

impl AttributeType {
    /// Intercom's name for the type, as used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "string",
            AttributeType::Integer => "integer",
            AttributeType::Float => "float",
            AttributeType::Boolean => "boolean",
            AttributeType::Date => "date",
        }
    }
}

/// Tells the parser the type of a custom data attribute (`custom_attributes.<name>`); the server
/// implements it over the workspace's data attributes of the searched model.
pub trait AttributeTypes {
    /// The type of the attribute `name` (without the `custom_attributes.` prefix), or `None` if the
    /// workspace has no such attribute, which makes the query fail with `invalid_field`.
    fn attribute_type(&self, name: &str) -> Option<AttributeType>;
}

impl AttributeTypes for HashMap<String, AttributeType> {
    fn attribute_type(&self, name: &str) -> Option<AttributeType> {
        self.get(name).copied()
    }
}

/// A workspace without custom data attributes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCustomAttributes;

impl AttributeTypes for NoCustomAttributes {
    fn attribute_type(&self, _name: &str) -> Option<AttributeType> {
        None
    }
}

/// A rejected search request: the status, `errors[].code` and `errors[].message` Intercom returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct SearchError {
    /// HTTP status (always 400 for search validation).
    pub status: u16,
    /// Intercom's error code, e.g. `invalid_operator`.
    pub code: String,
    /// Intercom's message, e.g. `email does not support operator: >`.
    pub message: String,
}

impl SearchError {
    fn bad(code: &str, message: impl Into<String>) -> Self {
        SearchError { status: 400, code: code.to_owned(), message: message.into() }
    }
}

/// A parsed, validated search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The query tree.
    pub query: Filter,
    /// Page size, already defaulted and range-checked (1..=150).
    pub per_page: u32,
    /// The opaque cursor from the previous page's `pages.next.starting_after`, if any.
    pub starting_after: Option<String>,
    /// The requested order, if the body had `sort`.
    pub sort: Option<Sort>,
}

/// A query: a single condition or a nested `AND`/`OR` group.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// One `{field, operator, value}` filter.
    Condition(Condition),
    /// `{operator: "AND", value: [...]}`: every nested filter matches.
    And(Vec<Filter>),
    /// `{operator: "OR", value: [...]}`: at least one nested filter matches.
    Or(Vec<Filter>),
}

impl Filter {
    /// Whether the contact or conversation `item` matches, with dates cut into days in UTC.
    pub fn matches(&self, item: &serde_json::Value) -> bool {
        self.matches_with_offset(item, 0)
    }

    /// Whether `item` matches, with dates cut into days at midnight of a workspace whose UTC offset
    /// is `utc_offset_seconds` (e.g. `-8 * 3600` for America/Los_Angeles in winter).
    pub fn matches_with_offset(&self, item: &serde_json::Value, utc_offset_seconds: i32) -> bool {
        match self {
            Filter::Condition(condition) => condition.matches(item, i64::from(utc_offset_seconds)),
            Filter::And(filters) => filters.iter().all(|f| f.matches_with_offset(item, utc_offset_seconds)),
            Filter::Or(filters) => filters.iter().any(|f| f.matches_with_offset(item, utc_offset_seconds)),
        }
    }
}

/// A comparison operator of a single filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `IN` (value is an array).
    In,
    /// `NIN` (value is an array).
    Nin,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `~` (contains).
    Contains,
    /// `!~` (does not contain).
    NotContains,
    /// `^` (starts with).
    StartsWith,
    /// `$` (ends with).
    EndsWith,
}

impl Operator {
    /// Every operator, in the order of Intercom's table.
    pub const ALL: [Operator; 12] = [
        Operator::Eq,
        Operator::Ne,
        Operator::In,
        Operator::Nin,
        Operator::Lt,
        Operator::Le,
        Operator::Gt,
        Operator::Ge,
        Operator::Contains,
        Operator::NotContains,
        Operator::StartsWith,
        Operator::EndsWith,
    ];

    /// The operator as written in a query.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::In => "IN",
            Operator::Nin => "NIN",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Contains => "~",
            Operator::NotContains => "!~",
            Operator::StartsWith => "^",
            Operator::EndsWith => "$",
        }
    }

    /// Parses an operator as written in a query (case-sensitive, as Intercom's enum is).
    pub fn parse(text: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|op| op.as_str() == text)
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A single validated filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    field: Field,
    operator: Operator,
    operand: Operand,
}

impl Condition {
    /// The field name as written in the query.
    pub fn field(&self) -> &str {
        &self.field.name
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The type the field's values are compared as.
    pub fn field_type(&self) -> AttributeType {
        self.field.ty
    }
}

/// A resolved field: its query name, type and where its values live in the JSON object.
#[derive(Debug, Clone, PartialEq)]
struct Field {
    name: String,
    ty: AttributeType,
    kind: fields::FieldKind,
    lookup: Lookup,
}

#[derive(Debug, Clone, PartialEq)]
enum Lookup {
    /// Built-in field: dotted paths in the object, `[]` flattening arrays.
    Paths(&'static [&'static str]),
    /// Custom attribute: `custom_attributes[<name>]`; the name is used as one key because attribute
    /// names may contain characters other fields never have.
    Custom(String),
}

/// A typed query value.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// `null`: matches a missing or null field with `=`, a present one with `!=`.
    Null,
    /// A string, kept lower-cased because every string comparison ignores case.
    Str(String),
    /// An integer or a float, compared as a number.
    Num(f64),
    /// A boolean.
    Bool(bool),
    /// A date as UNIX seconds (cut to a day when compared).
    Date(i64),
    /// The array of an `IN`/`NIN` filter.
    List(Vec<Operand>),
}

/// Sort direction of `sort.order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// `ascending`.
    Ascending,
    /// `descending` (the default).
    Descending,
}

/// The body's `sort: {field, order}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    field: Field,
    /// The direction.
    pub order: SortOrder,
}

impl Sort {
    /// The field name as written in the body.
    pub fn field(&self) -> &str {
        &self.field.name
    }

    /// Orders two items for this sort: by the field's full value (not cut to days: Intercom sorts by
    /// the full timestamp), items without a value last in either direction, ties broken by `id`
    /// ascending so that pages are stable.
    pub fn compare(&self, a: &serde_json::Value, b: &serde_json::Value) -> std::cmp::Ordering {
        eval::compare_for_sort(self, a, b)
    }
}

#[cfg(test)]
mod tests;
