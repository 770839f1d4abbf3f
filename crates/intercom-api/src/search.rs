//! Search queries (`POST /contacts/search`, `POST /conversations/search`): a builder and the
//! validation Intercom applies, done before anything is sent.
//!
//! Rules (OpenAPI 2.15, facts sheet §5.3): the operator must suit the field's type (dates only
//! `=`, `<`, `>` on contacts; `tag_id` only `=`, `!=`), `IN`/`NIN` take arrays, groups nest at most
//! 2 levels and hold at most 15 filters. A bad query is an [`QueryError`] naming the offending
//! filter by its path in the request (`query.value[1].value[0]`), its field and its operator;
//! values are never echoed, as they may be personal data.
//!
//! ```
//! use intercom_api::search::{Filter, SearchModel};
//! let query = Filter::and([
//!     Filter::eq("role", "user"),
//!     Filter::or([Filter::gt("created_at", 1_700_000_000), Filter::is_in("location.country", ["Ireland", "France"])]),
//! ]);
//! assert!(query.validate(SearchModel::Contacts, |_| None).is_ok());
//! let bad = Filter::and([Filter::new("created_at", ">=", 1_700_000_000)]);
//! let err = bad.validate(SearchModel::Contacts, |_| None).unwrap_err();
//! assert_eq!(err.path, "query.value[0]");
//! ```

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

/// Largest group depth: the top-level group is depth 1 ("max 2 nested filters").
pub const MAX_DEPTH: usize = 2;
/// Most filters directly inside one `AND`/`OR` group.
pub const MAX_FILTERS_PER_GROUP: usize = 15;
/// Largest page size of a search.
pub const MAX_PER_PAGE: u32 = 150;

/// The resource searched; it decides the field table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchModel {
    /// `POST /contacts/search`.
    Contacts,
    /// `POST /conversations/search`.
    Conversations,
}

/// The type of a searchable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Text.
    String,
    /// Whole number.
    Integer,
    /// Any number (custom `float` attributes).
    Float,
    /// true or false.
    Boolean,
    /// Epoch seconds, matched by calendar day.
    Date,
    /// Tag ids on contacts: only `=` and `!=`.
    TagId,
    /// `role`: the strings `user` or `lead`.
    Role,
}

impl FieldType {
    fn name(self) -> &'static str {
        match self {
            FieldType::String | FieldType::Role => "string",
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::TagId => "tag id",
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `IN` (array value).
    In,
    /// `NIN` (array value).
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
    /// The wire form.
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

    /// Parses the wire form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "=" => Operator::Eq,
            "!=" => Operator::Ne,
            "IN" => Operator::In,
            "NIN" => Operator::Nin,
            "<" => Operator::Lt,
            "<=" => Operator::Le,
            ">" => Operator::Gt,
            ">=" => Operator::Ge,
            "~" => Operator::Contains,
            "!~" => Operator::NotContains,
            "^" => Operator::StartsWith,
            "$" => Operator::EndsWith,
            _ => return None,
        })
    }

    fn allowed(model: SearchModel, ty: FieldType) -> &'static [Operator] {
        use Operator::*;
        match (model, ty) {
            (_, FieldType::String | FieldType::Role) => {
                &[Eq, Ne, In, Nin, Contains, NotContains, StartsWith, EndsWith]
            }
            (_, FieldType::TagId) => &[Eq, Ne],
            (_, FieldType::Boolean) => &[Eq, Ne, In, Nin],
            (SearchModel::Contacts, FieldType::Integer | FieldType::Float) => {
                &[Eq, Ne, In, Nin, Lt, Le, Gt, Ge]
            }
            (SearchModel::Conversations, FieldType::Integer | FieldType::Float) => &[Eq, Ne, In, Nin, Lt, Gt],
            (SearchModel::Contacts, FieldType::Date) => &[Eq, Lt, Gt],
            (SearchModel::Conversations, FieldType::Date) => &[Eq, Ne, In, Nin, Lt, Gt],
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A search filter: one comparison, or an `AND`/`OR` group of filters.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `{field, operator, value}`. The operator is kept as written so bad ones can be reported.
    Field {
        /// Field path, e.g. `email` or `custom_attributes.plan`.
        field: String,
        /// Operator as written.
        operator: String,
        /// Value (an array for `IN`/`NIN`).
        value: Value,
    },
    /// `{operator: AND|OR, value: [filters]}`.
    Group {
        /// `true` for `AND`, `false` for `OR`.
        and: bool,
        /// The filters.
        filters: Vec<Filter>,
    },
}

impl Filter {
    /// A comparison with any operator string (validated later).
    pub fn new(field: impl Into<String>, operator: impl Into<String>, value: impl Into<Value>) -> Self {
        Filter::Field { field: field.into(), operator: operator.into(), value: value.into() }
    }

    /// `field = value`.
    pub fn eq(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, "=", value)
    }

    /// `field != value`.
    pub fn ne(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, "!=", value)
    }

    /// `field > value`.
    pub fn gt(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, ">", value)
    }

    /// `field < value`.
    pub fn lt(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, "<", value)
    }

    /// `field ~ value` (contains).
    pub fn contains(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, "~", value)
    }

    /// `field ^ value` (starts with).
    pub fn starts_with(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, "^", value)
    }

    /// `field IN [values]`.
    pub fn is_in<V: Into<Value>>(field: impl Into<String>, values: impl IntoIterator<Item = V>) -> Self {
        Self::new(field, "IN", Value::Array(values.into_iter().map(Into::into).collect()))
    }

    /// `field NIN [values]`.
    pub fn not_in<V: Into<Value>>(field: impl Into<String>, values: impl IntoIterator<Item = V>) -> Self {
        Self::new(field, "NIN", Value::Array(values.into_iter().map(Into::into).collect()))
    }

    /// All of `filters`.
    pub fn and(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::Group { and: true, filters: filters.into_iter().collect() }
    }

    /// Any of `filters`.
    pub fn or(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::Group { and: false, filters: filters.into_iter().collect() }
    }

    /// The JSON Intercom expects.
    pub fn to_json(&self) -> Value {
        match self {
            Filter::Field { field, operator, value } => {
                json!({ "field": field, "operator": operator, "value": value })
            }
            Filter::Group { and, filters } => json!({
                "operator": if *and { "AND" } else { "OR" },
                "value": filters.iter().map(Filter::to_json).collect::<Vec<_>>(),
            }),
        }
    }

    /// Checks the query as Intercom would; `custom` gives the type of `custom_attributes.<name>`
    /// (`None`: not defined).
    pub fn validate(
        &self,
        model: SearchModel,
        custom: impl Fn(&str) -> Option<FieldType>,
    ) -> Result<(), QueryError> {
        self.check("query".to_string(), 0, model, &custom)
    }

    /// The custom attribute names the query uses (to fetch their types first).
    pub fn custom_attributes(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_custom(&mut out);
        out
    }

    fn collect_custom(&self, out: &mut Vec<String>) {
        match self {
            Filter::Field { field, .. } => {
                if let Some(name) = field.strip_prefix("custom_attributes.") {
                    out.push(name.to_string());
                }
            }
            Filter::Group { filters, .. } => filters.iter().for_each(|f| f.collect_custom(out)),
        }
    }

    fn check(
        &self,
        path: String,
        depth: usize,
        model: SearchModel,
        custom: &dyn Fn(&str) -> Option<FieldType>,
    ) -> Result<(), QueryError> {
        match self {
            Filter::Group { and, filters } => {
                let op = if *and { "AND" } else { "OR" };
                let err =
                    |reason: String| QueryError { path: path.clone(), filter: format!("{op} group"), reason };
                if depth + 1 > MAX_DEPTH {
                    return Err(err(format!(
                        "groups nest at most {MAX_DEPTH} levels deep; flatten this group"
                    )));
                }
                if filters.is_empty() {
                    return Err(err("a group needs at least one filter".into()));
                }
                if filters.len() > MAX_FILTERS_PER_GROUP {
                    return Err(err(format!(
                        "a group holds at most {MAX_FILTERS_PER_GROUP} filters, this one has {}; split it or use IN",
                        filters.len()
                    )));
                }
                for (n, f) in filters.iter().enumerate() {
                    f.check(format!("{path}.value[{n}]"), depth + 1, model, custom)?;
                }
                Ok(())
            }
            Filter::Field { field, operator, value } => {
                let err = |reason: String| QueryError {
                    path: path.clone(),
                    filter: format!("{field} {operator}"),
                    reason,
                };
                let ty = match field.strip_prefix("custom_attributes.") {
                    Some(name) => match custom(name) {
                        Some(ty) => ty,
                        None if model == SearchModel::Conversations => FieldType::String,
                        None => {
                            return Err(err(format!(
                                "custom attribute {name:?} is not defined for contacts; create it first"
                            )));
                        }
                    },
                    None => builtin(model, field)
                        .ok_or_else(|| err(format!("{field:?} is not a searchable field")))?,
                };
                let op = Operator::parse(operator).ok_or_else(|| {
                    err(format!("unknown operator {operator:?}; use one of = != IN NIN < <= > >= ~ !~ ^ $"))
                })?;
                let allowed = Operator::allowed(model, ty);
                if !allowed.contains(&op) {
                    let list: Vec<&str> = allowed.iter().map(|o| o.as_str()).collect();
                    return Err(err(format!(
                        "operator {op} is not valid for {} field {field}; use one of {}",
                        ty.name(),
                        list.join(" ")
                    )));
                }
                match (op, value) {
                    (Operator::In | Operator::Nin, Value::Array(items)) => {
                        if items.is_empty() {
                            return Err(err(format!("{op} needs a non-empty array")));
                        }
                        for (n, item) in items.iter().enumerate() {
                            if !accepts(ty, item, false) {
                                return Err(err(format!("item {n} is not of type {}", ty.name())));
                            }
                        }
                        Ok(())
                    }
                    (Operator::In | Operator::Nin, _) => Err(err(format!("{op} takes an array of values"))),
                    (_, Value::Array(_)) => {
                        Err(err(format!("{op} takes a single value; use IN or NIN for several")))
                    }
                    (_, v) if !accepts(ty, v, matches!(op, Operator::Eq | Operator::Ne)) => {
                        Err(err(format!("the value is not of type {}", ty.name())))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

/// Whether `v` is a valid value for a field of type `ty` (`null` only for `=`/`!=`: "has no value").
fn accepts(ty: FieldType, v: &Value, null_ok: bool) -> bool {
    match (ty, v) {
        (_, Value::Null) => null_ok,
        (FieldType::String | FieldType::TagId, Value::String(_)) => true,
        (FieldType::Role, Value::String(s)) => s == "user" || s == "lead",
        (FieldType::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (FieldType::Float, Value::Number(_)) => true,
        (FieldType::Boolean, Value::Bool(_)) => true,
        (FieldType::Date, Value::Number(n)) => n.is_i64() || n.is_u64(),
        // Dates as digit strings are accepted by Intercom too.
        (FieldType::Date, Value::String(s)) => !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// The type of a built-in searchable field.
pub fn builtin(model: SearchModel, field: &str) -> Option<FieldType> {
    use FieldType::*;
    let ty = match model {
        SearchModel::Contacts => match field {
            "role" => Role,
            "id"
            | "name"
            | "avatar"
            | "email"
            | "email_domain"
            | "phone"
            | "external_id"
            | "language_override"
            | "browser"
            | "browser_language"
            | "os"
            | "location.country"
            | "location.region"
            | "location.city"
            | "segment_id"
            | "ios_app_version"
            | "ios_device"
            | "ios_app_device"
            | "ios_os_version"
            | "ios_app_name"
            | "ios_sdk_version"
            | "android_app_version"
            | "android_device"
            | "android_app_name"
            | "android_sdk_version"
            | "andoid_sdk_version" => String,
            "owner_id" => Integer,
            "created_at"
            | "signed_up_at"
            | "updated_at"
            | "last_seen_at"
            | "last_contacted_at"
            | "last_replied_at"
            | "last_email_opened_at"
            | "last_email_clicked_at"
            | "ios_last_seen_at"
            | "android_last_seen_at" => Date,
            "unsubscribed_from_emails" | "marked_email_as_spam" | "has_hard_bounced" => Boolean,
            "tag_id" => TagId,
            _ => return None,
        },
        SearchModel::Conversations => match field {
            "id"
            | "source.type"
            | "source.id"
            | "source.delivered_as"
            | "source.subject"
            | "source.body"
            | "source.author.id"
            | "source.author.type"
            | "source.author.name"
            | "source.author.email"
            | "source.url"
            | "contact_ids"
            | "teammate_ids"
            | "channel_initiated"
            | "state"
            | "tag_ids"
            | "priority"
            | "statistics.last_closed_by_id"
            | "conversation_rating.remark"
            | "conversation_rating.contact_id"
            | "conversation_rating.admin_d"
            | "conversation_rating.admin_id"
            | "ai_agent.resolution_state"
            | "ai_agent.last_answer_type"
            | "ai_agent.rating_remark"
            | "ai_agent.source_type"
            | "ai_agent.source_title" => String,
            "admin_assignee_id"
            | "team_assignee_id"
            | "statistics.time_to_assignment"
            | "statistics.time_to_admin_reply"
            | "statistics.time_to_first_close"
            | "statistics.time_to_last_close"
            | "statistics.median_time_to_reply"
            | "statistics.count_reopens"
            | "statistics.count_assignments"
            | "statistics.count_conversation_parts"
            | "conversation_rating.score"
            | "ai_agent.rating" => Integer,
            "created_at"
            | "updated_at"
            | "waiting_since"
            | "snoozed_until"
            | "statistics.first_contact_reply_at"
            | "statistics.first_assignment_at"
            | "statistics.first_admin_reply_at"
            | "statistics.first_close_at"
            | "statistics.last_assignment_at"
            | "statistics.last_assignment_admin_reply_at"
            | "statistics.last_contact_reply_at"
            | "statistics.last_admin_reply_at"
            | "statistics.last_close_at"
            | "conversation_rating.requested_at"
            | "conversation_rating.replied_at" => Date,
            "open" | "read" | "ai_agent_participated" => Boolean,
            _ => return None,
        },
    };
    Some(ty)
}

/// A query that Intercom would reject, found before sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid search filter {path} ({filter}): {reason}")]
pub struct QueryError {
    /// Where the filter sits in the request body, e.g. `query.value[1].value[0]`.
    pub path: String,
    /// The filter's field and operator (values are not shown: they may be personal data).
    pub filter: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// Sort order of contact search results (API 2.16+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sort {
    /// Field to sort by.
    pub field: String,
    /// `ascending` or `descending`.
    pub order: &'static str,
}

/// A search: the query, an optional sort and a page size.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// The filter tree.
    pub query: Filter,
    /// Sort order.
    pub sort: Option<Sort>,
    /// Page size (1..=150).
    pub per_page: Option<u32>,
}

impl Search {
    /// A search for `query`.
    pub fn new(query: Filter) -> Self {
        Self { query, sort: None, per_page: None }
    }

    /// Sets the page size (clamped to 1..=150).
    pub fn per_page(mut self, n: u32) -> Self {
        self.per_page = Some(n.clamp(1, MAX_PER_PAGE));
        self
    }

    /// Sorts ascending by `field`.
    pub fn sort_ascending(mut self, field: impl Into<String>) -> Self {
        self.sort = Some(Sort { field: field.into(), order: "ascending" });
        self
    }

    /// Sorts descending by `field`.
    pub fn sort_descending(mut self, field: impl Into<String>) -> Self {
        self.sort = Some(Sort { field: field.into(), order: "descending" });
        self
    }

    /// The request body for one page.
    pub fn body(&self, starting_after: Option<&str>) -> Value {
        let mut body = json!({ "query": self.query.to_json() });
        let mut pagination = serde_json::Map::new();
        if let Some(n) = self.per_page {
            pagination.insert("per_page".into(), json!(n));
        }
        if let Some(cursor) = starting_after {
            pagination.insert("starting_after".into(), json!(cursor));
        }
        if !pagination.is_empty() {
            body["pagination"] = Value::Object(pagination);
        }
        if let Some(sort) = &self.sort {
            body["sort"] = json!(sort);
        }
        body
    }
}

impl From<Filter> for Search {
    fn from(query: Filter) -> Self {
        Search::new(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contacts(f: &Filter) -> Result<(), QueryError> {
        f.validate(SearchModel::Contacts, |name| match name {
            "plan" => Some(FieldType::String),
            "seats" => Some(FieldType::Integer),
            "trial_ends_at" => Some(FieldType::Date),
            _ => None,
        })
    }

    #[test]
    fn accepts_nested_and_or_with_arrays() {
        let q = Filter::and([
            Filter::is_in("email_domain", ["example.com", "example.org"]),
            Filter::or([
                Filter::gt("custom_attributes.seats", 10),
                Filter::eq("custom_attributes.plan", "pro"),
            ]),
            Filter::lt("last_seen_at", "1700000000"),
            Filter::ne("tag_id", "81"),
            Filter::eq("email", Value::Null),
        ]);
        assert_eq!(contacts(&q), Ok(()));
        let body = Search::new(q).per_page(20).body(Some("Wz1d"));
        assert_eq!(body["pagination"]["starting_after"], "Wz1d");
        assert_eq!(body["query"]["operator"], "AND");
        assert_eq!(body["query"]["value"][0]["operator"], "IN");
    }

    #[test]
    fn names_the_offending_filter() {
        let q = Filter::and([
            Filter::eq("role", "user"),
            Filter::or([Filter::eq("email", "a"), Filter::new("created_at", "!=", 1)]),
        ]);
        let e = contacts(&q).unwrap_err();
        assert_eq!(e.path, "query.value[1].value[1]");
        assert_eq!(e.filter, "created_at !=");
        assert!(e.reason.contains("= < >"), "{e}");
    }

    #[test]
    fn rejects_what_intercom_rejects() {
        let cases: Vec<(Filter, &str)> = vec![
            (Filter::new("email", "IN", "a@b.c"), "takes an array"),
            (Filter::eq("email", Value::Array(vec![])), "single value"),
            (Filter::is_in("email", Vec::<String>::new()), "non-empty"),
            (Filter::gt("email", "a"), "not valid for string"),
            (Filter::is_in("tag_id", ["1"]), "not valid for tag id"),
            (Filter::eq("created_at", "yesterday"), "not of type date"),
            (Filter::eq("role", "admin"), "not of type string"),
            (Filter::eq("custom_attributes.nope", 1), "not defined"),
            (Filter::eq("favourite_colour", "red"), "not a searchable field"),
            (Filter::new("name", "LIKE", "x"), "unknown operator"),
            (Filter::and([]), "at least one"),
            (Filter::and([Filter::or([Filter::and([Filter::eq("name", "x")])])]), "nest at most 2"),
            (Filter::and((0..16).map(|n| Filter::eq("name", n.to_string()))), "at most 15"),
            (Filter::eq("custom_attributes.seats", 1.5), "not of type integer"),
        ];
        for (query, expected) in cases {
            let e = contacts(&query).expect_err(expected);
            assert!(e.to_string().contains(expected), "expected {expected:?} in {e}");
        }
    }

    #[test]
    fn error_never_echoes_values() {
        let e = contacts(&Filter::new("email", "IN", "jane@example.com")).unwrap_err();
        assert!(!e.to_string().contains("jane@example.com"), "{e}");
    }

    #[test]
    fn conversation_dates_allow_not_equal() {
        assert_eq!(Filter::ne("created_at", 1).validate(SearchModel::Conversations, |_| None), Ok(()));
        assert!(Filter::new("created_at", ">=", 1).validate(SearchModel::Conversations, |_| None).is_err());
    }
}
