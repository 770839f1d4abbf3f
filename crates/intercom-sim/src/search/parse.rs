//! Request body → [`SearchRequest`], with Intercom's validation errors.
//!
//! Error codes and messages marked "Intercom's" are the ones Intercom's API reference (2.3 "Search
//! for contacts"/"Search for conversations", "Example Errors"; 2.16 `invalid_sort_order`) shows.
//! The others are cases whose real wording is not published; they use the same codes and style and
//! say so where they are built.

use serde_json::{Map, Value};

use super::fields::{self, FieldKind, FieldSpec};
use super::{
    AttributeType, AttributeTypes, Condition, Field, Filter, Lookup, MAX_FILTERS_PER_GROUP, MAX_GROUP_DEPTH,
    MAX_PER_PAGE, Operand, Operator, SearchError, SearchModel, SearchRequest, Sort, SortOrder,
};

/// Intercom's message for a filter missing `field`/`operator`/`value` or a group missing
/// `operator`/`value`.
const INVALID_QUERY: &str = "Invalid query. Ensure 'field', 'operator', 'value' are present for field queries. \
Ensure 'operator' and 'value' for composite queries.";

/// Parses and validates the body of `POST /contacts/search` or `POST /conversations/search`.
///
/// `attrs` gives the types of the workspace's custom data attributes of `model`.
pub fn parse_search(
    model: SearchModel,
    body: &Value,
    attrs: &dyn AttributeTypes,
) -> Result<SearchRequest, SearchError> {
    let Some(body) = body.as_object() else {
        // Not published; the same answer as every other endpoint of the simulator for a non-object body.
        return Err(SearchError::bad("parameter_invalid", "The request body must be a JSON object"));
    };
    for key in body.keys() {
        if !matches!(key.as_str(), "query" | "pagination" | "sort") {
            // Intercom's: {"code":"bad_request","message":"bad 'random_param' parameter"}.
            return Err(SearchError::bad("bad_request", format!("bad '{key}' parameter")));
        }
    }
    let query = match body.get("query") {
        // Same wording as Intercom's other required-parameter errors ("'dataset_id' is a required
        // parameter"), with the code the simulator uses for every missing parameter.
        None | Some(Value::Null) => {
            return Err(SearchError::bad("parameter_not_found", "'query' is a required parameter"));
        }
        Some(query) => parse_filter(model, query, attrs, 0)?,
    };
    let (per_page, starting_after) = parse_pagination(model, body.get("pagination"))?;
    let sort = match body.get("sort") {
        None | Some(Value::Null) => None,
        Some(sort) => Some(parse_sort(model, sort, attrs)?),
    };
    Ok(SearchRequest { query, per_page, starting_after, sort })
}

/// `depth` is the number of groups enclosing `node`.
fn parse_filter(
    model: SearchModel,
    node: &Value,
    attrs: &dyn AttributeTypes,
    depth: usize,
) -> Result<Filter, SearchError> {
    let Some(object) = node.as_object() else {
        return Err(SearchError::bad("invalid_query", INVALID_QUERY));
    };
    if object.contains_key("field") {
        parse_condition(model, object, attrs).map(Filter::Condition)
    } else {
        parse_group(model, object, attrs, depth + 1)
    }
}

fn parse_group(
    model: SearchModel,
    object: &Map<String, Value>,
    attrs: &dyn AttributeTypes,
    depth: usize,
) -> Result<Filter, SearchError> {
    let (Some(operator), Some(value)) = (object.get("operator"), object.get("value")) else {
        return Err(SearchError::bad("invalid_query", INVALID_QUERY));
    };
    let is_and = match operator.as_str() {
        Some("AND") => true,
        Some("OR") => false,
        // Intercom's, trailing space included: clients match on it.
        _ => {
            return Err(SearchError::bad(
                "invalid_operator",
                "Composite operators must be of type AND or OR ",
            ));
        }
    };
    let Some(children) = value.as_array() else {
        return Err(SearchError::bad("invalid_query", INVALID_QUERY));
    };
    if depth > MAX_GROUP_DEPTH {
        // Not published: Intercom documents the limit ("max 2 nested filters") but not its error.
        return Err(SearchError::bad(
            "invalid_query",
            format!(
                "Nested queries are limited to {MAX_GROUP_DEPTH} levels, please try again with fewer nested groups"
            ),
        ));
    }
    if children.len() > MAX_FILTERS_PER_GROUP {
        // Intercom's.
        return Err(SearchError::bad(
            "invalid_value",
            "Number of elements in composite query is greater than 15, please try again with a smaller list",
        ));
    }
    if children.is_empty() {
        // Not published. An empty group has no agreed meaning (match all? none?), so it is refused
        // rather than guessed.
        return Err(SearchError::bad("invalid_query", "Composite query must contain at least one filter"));
    }
    let filters = children
        .iter()
        .map(|child| parse_filter(model, child, attrs, depth))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if is_and { Filter::And(filters) } else { Filter::Or(filters) })
}

fn parse_condition(
    model: SearchModel,
    object: &Map<String, Value>,
    attrs: &dyn AttributeTypes,
) -> Result<Condition, SearchError> {
    let (Some(field), Some(operator), Some(value)) =
        (object.get("field"), object.get("operator"), object.get("value"))
    else {
        return Err(SearchError::bad("invalid_query", INVALID_QUERY));
    };
    let (Some(field_name), Some(operator_text)) = (field.as_str(), operator.as_str()) else {
        return Err(SearchError::bad("invalid_query", INVALID_QUERY));
    };
    let field = resolve_field(model, field_name, attrs)?;
    let Some(operator) = Operator::parse(operator_text).filter(|op| operator_allowed(&field, *op)) else {
        // Intercom's: "email does not support operator: >". Also used for operators Intercom does not
        // know at all (`LIKE`, `AND` on a field), which its API answers the same way or with a 500.
        return Err(SearchError::bad(
            "invalid_operator",
            format!("{} does not support operator: {operator_text}", field.name),
        ));
    };
    let operand = parse_operand(&field, operator, value)?;
    Ok(Condition { field, operator, operand })
}

fn resolve_field(model: SearchModel, name: &str, attrs: &dyn AttributeTypes) -> Result<Field, SearchError> {
    if let Some(spec) = fields::builtin(model, name) {
        return Ok(builtin_field(spec));
    }
    if let Some(attribute) = name.strip_prefix(fields::CUSTOM_PREFIX)
        && let Some(ty) = attrs.attribute_type(attribute)
    {
        return Ok(Field {
            name: name.to_owned(),
            ty,
            kind: FieldKind::Plain,
            lookup: Lookup::Custom(attribute.to_owned()),
        });
    }
    // Intercom's: "not_a_field is not a valid field".
    Err(SearchError::bad("invalid_field", format!("{name} is not a valid field")))
}

fn builtin_field(spec: &'static FieldSpec) -> Field {
    Field { name: spec.name.to_owned(), ty: spec.ty, kind: spec.kind, lookup: Lookup::Paths(spec.paths) }
}

/// The operator/type matrix of the SearchContacts table and the `single_filter_search_request`
/// operator description. The conversations table is older and looser (it lists `!=`, `IN`, `NIN`
/// for "All" and no `<=`/`>=`); one matrix is applied to both because dates are indexed the same
/// way for both and a client written against the stricter rules works on both.
pub(super) fn operator_allowed(field: &Field, op: Operator) -> bool {
    use Operator::*;
    if field.kind == FieldKind::IdOnly {
        return matches!(op, Eq | Ne);
    }
    match field.ty {
        AttributeType::String => {
            matches!(op, Eq | Ne | In | Nin | Contains | NotContains | StartsWith | EndsWith)
        }
        AttributeType::Boolean => matches!(op, Eq | Ne | In | Nin),
        AttributeType::Integer | AttributeType::Float => matches!(op, Eq | Ne | In | Nin | Lt | Le | Gt | Ge),
        AttributeType::Date => matches!(op, Eq | Lt | Gt),
    }
}

fn parse_operand(field: &Field, operator: Operator, value: &Value) -> Result<Operand, SearchError> {
    let is_list = matches!(operator, Operator::In | Operator::Nin);
    match (is_list, value) {
        (true, Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                // Array items are strings or integers (`single_filter_search_request.value`); a null
                // inside `IN` would mean "missing", which `=`/`!=` null already say.
                Value::Null => Err(not_valid(field.ty, item)),
                _ => scalar(field.ty, item),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Operand::List),
        (true, _) => {
            // Not published: the docs only say "Values must be in Array".
            Err(SearchError::bad(
                "invalid_value",
                format!("{} requires an array value for {}", operator, field.name),
            ))
        }
        (false, Value::Array(_)) => Err(SearchError::bad(
            // Not published: an array is only meaningful for IN/NIN.
            "invalid_value",
            format!("{} does not accept an array value for operator: {operator}", field.name),
        )),
        // Intercom's docs: `"value": null` (unquoted) finds contacts without the field, whatever its type.
        (false, Value::Null) if matches!(operator, Operator::Eq | Operator::Ne) => Ok(Operand::Null),
        (false, _) => scalar(field.ty, value),
    }
}

/// Checks one value against the field type. Integers and dates also accept a string of digits, as
/// Intercom's own request example does (`"value": "1306054154"` for `created_at`); strings do not
/// accept numbers (Intercom's "123 is not a valid string").
fn scalar(ty: AttributeType, value: &Value) -> Result<Operand, SearchError> {
    let parsed = match (ty, value) {
        (AttributeType::String, Value::String(text)) => Some(Operand::Str(text.to_lowercase())),
        (AttributeType::Boolean, Value::Bool(flag)) => Some(Operand::Bool(*flag)),
        (AttributeType::Integer, _) => integer(value).map(|n| Operand::Num(n as f64)),
        (AttributeType::Date, _) => integer(value).map(Operand::Date),
        (AttributeType::Float, Value::Number(number)) => number.as_f64().map(Operand::Num),
        (AttributeType::Float, Value::String(text)) => {
            text.trim().parse::<f64>().ok().filter(|n| n.is_finite()).map(Operand::Num)
        }
        _ => None,
    };
    parsed.ok_or_else(|| not_valid(ty, value))
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15).map(|n| n as i64)),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// Intercom's: `{"code":"invalid_value","message":"123 is not a valid string"}`.
fn not_valid(ty: AttributeType, value: &Value) -> SearchError {
    let shown = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    SearchError::bad("invalid_value", format!("{shown} is not a valid {}", ty.as_str()))
}

fn parse_pagination(
    model: SearchModel,
    pagination: Option<&Value>,
) -> Result<(u32, Option<String>), SearchError> {
    let default = model.default_per_page();
    let pagination = match pagination {
        None | Some(Value::Null) => return Ok((default, None)),
        Some(Value::Object(pagination)) => pagination,
        // Not published; same style as Intercom's "'attribute_ids' not an array must be of type Array".
        Some(_) => {
            return Err(SearchError::bad(
                "parameter_invalid",
                "'pagination' not an object must be of type Object",
            ));
        }
    };
    let per_page = match pagination.get("per_page") {
        None | Some(Value::Null) => default,
        Some(value) => integer(value)
            .filter(|n| (1..=i64::from(MAX_PER_PAGE)).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                // Not published: Intercom documents the maximum (150) but not the error past it; this is
                // the simulator's answer for per_page on list endpoints too.
                SearchError::bad(
                    "parameter_invalid",
                    format!("per_page must be an integer between 1 and {MAX_PER_PAGE}"),
                )
            })?,
    };
    // `pagination.page` is accepted and ignored, as Intercom does (facts sheet §4.2).
    let starting_after = match pagination.get("starting_after") {
        None | Some(Value::Null) => None,
        Some(Value::String(cursor)) if !cursor.is_empty() => Some(cursor.clone()),
        Some(Value::String(_)) => None,
        // Not published.
        Some(_) => {
            return Err(SearchError::bad("parameter_invalid", "'starting_after' must be a string"));
        }
    };
    Ok((per_page, starting_after))
}

fn parse_sort(model: SearchModel, sort: &Value, attrs: &dyn AttributeTypes) -> Result<Sort, SearchError> {
    let Some(sort) = sort.as_object() else {
        // Not published.
        return Err(SearchError::bad("parameter_invalid", "'sort' not an object must be of type Object"));
    };
    let Some(field_name) = sort.get("field").and_then(Value::as_str) else {
        // Not published.
        return Err(SearchError::bad("parameter_not_found", "'sort.field' is a required parameter"));
    };
    let field = resolve_field(model, field_name, attrs)?;
    let order = match sort.get("order") {
        None | Some(Value::Null) => SortOrder::Descending,
        Some(Value::String(order)) if order == "ascending" => SortOrder::Ascending,
        Some(Value::String(order)) if order == "descending" => SortOrder::Descending,
        Some(other) => {
            let shown = other.as_str().map_or_else(|| other.to_string(), str::to_owned);
            // Intercom's (2.16 contact_search_request).
            return Err(SearchError::bad(
                "invalid_sort_order",
                format!("Invalid sort order '{shown}'. Must be one of: ascending, descending"),
            ));
        }
    };
    Ok(Sort { field, order })
}
