//! Evaluation of parsed filters and sorts against a contact or conversation as JSON.
//!
//! A field can hold several values (a contact's tags, a conversation's contact ids, the words of
//! `source.body`): a positive operator (`=`, `IN`, `~`, `^`, `$`, `<`, `>`, ...) matches when any value
//! satisfies it, and each negative operator (`!=`, `NIN`, `!~`) is the exact complement of its
//! positive one, so a contact without an email matches `email != "a@b.c"`, as a search index does.

use std::cmp::Ordering;

use serde_json::Value;

use super::fields::FieldKind;
use super::{AttributeType, Condition, Field, Lookup, Operand, Operator, Sort, SortOrder};

const SECONDS_PER_DAY: i64 = 86_400;

impl Condition {
    pub(super) fn matches(&self, item: &Value, utc_offset: i64) -> bool {
        let values = values_of(&self.field, item);
        let positive = |op: Operator| test(&self.field, op, &self.operand, &values, utc_offset);
        match self.operator {
            Operator::Ne => !positive(Operator::Eq),
            Operator::Nin => !positive(Operator::In),
            Operator::NotContains => !positive(Operator::Contains),
            op => positive(op),
        }
    }
}

/// Whether any of `values` satisfies the positive operator `op`.
fn test(field: &Field, op: Operator, operand: &Operand, values: &[&Value], utc_offset: i64) -> bool {
    match (op, operand) {
        (Operator::Eq, Operand::Null) => values.is_empty(),
        (Operator::Eq, expected) => values.iter().any(|v| equals(field, v, expected, utc_offset)),
        (Operator::In, Operand::List(options)) => {
            values.iter().any(|v| options.iter().any(|expected| equals(field, v, expected, utc_offset)))
        }
        (Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge, Operand::Num(bound)) => {
            values.iter().filter_map(|v| number(v)).any(|n| ordered(op, n.partial_cmp(bound)))
        }
        (Operator::Lt | Operator::Gt, Operand::Date(bound)) => {
            let bound_day = day(*bound, utc_offset);
            values
                .iter()
                .filter_map(|v| timestamp(v))
                .any(|t| ordered(op, Some(day(t, utc_offset).cmp(&bound_day))))
        }
        (Operator::Contains | Operator::StartsWith | Operator::EndsWith, Operand::Str(needle)) => {
            strings(field, values).any(|text| match op {
                Operator::Contains => text.contains(needle.as_str()),
                Operator::StartsWith => text.starts_with(needle.as_str()),
                _ => text.ends_with(needle.as_str()),
            })
        }
        // The parser never pairs other operators and operands.
        _ => false,
    }
}

fn ordered(op: Operator, ordering: Option<Ordering>) -> bool {
    match ordering {
        Some(Ordering::Less) => matches!(op, Operator::Lt | Operator::Le),
        Some(Ordering::Equal) => matches!(op, Operator::Le | Operator::Ge),
        Some(Ordering::Greater) => matches!(op, Operator::Gt | Operator::Ge),
        None => false,
    }
}

fn equals(field: &Field, value: &Value, expected: &Operand, utc_offset: i64) -> bool {
    match expected {
        Operand::Str(expected) => strings(field, std::slice::from_ref(&value)).any(|text| text == *expected),
        Operand::Num(expected) => number(value) == Some(*expected),
        Operand::Bool(expected) => boolean(value) == Some(*expected),
        Operand::Date(expected) => {
            timestamp(value).is_some_and(|t| day(t, utc_offset) == day(*expected, utc_offset))
        }
        Operand::Null | Operand::List(_) => false,
    }
}

/// The calendar day of a UNIX timestamp in a workspace `utc_offset` seconds from UTC.
pub(super) fn day(timestamp: i64, utc_offset: i64) -> i64 {
    timestamp.saturating_add(utc_offset).div_euclid(SECONDS_PER_DAY)
}

/// The lower-cased strings to compare: the whole values, or for `source.body` each word of the text
/// (tags stripped: the body is HTML).
fn strings<'v>(field: &Field, values: &'v [&'v Value]) -> Box<dyn Iterator<Item = String> + 'v> {
    let texts = values.iter().filter_map(|v| text(v));
    if field.kind == FieldKind::PerWord {
        Box::new(texts.flat_map(|text| words(&text)))
    } else {
        Box::new(texts.map(|text| text.to_lowercase()))
    }
}

fn words(html: &str) -> Vec<String> {
    let mut plain = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                plain.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    plain
        .split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.' && c != '_' && c != '-')
        .map(|word| word.trim_matches(|c: char| c == '.' || c == '-').to_lowercase())
        .filter(|word| !word.is_empty())
        .collect()
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn timestamp(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| number.as_f64().map(|n| n.floor() as i64)),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    }
}

fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The non-null values of `field` in `item`, arrays flattened.
pub(super) fn values_of<'a>(field: &Field, item: &'a Value) -> Vec<&'a Value> {
    let mut out = Vec::new();
    match &field.lookup {
        Lookup::Paths(paths) => {
            for path in *paths {
                walk(item, path.split('.'), &mut out);
            }
        }
        Lookup::Custom(name) => {
            if let Some(value) = item.get("custom_attributes").and_then(|attrs| attrs.get(name)) {
                push_leaf(value, &mut out);
            }
        }
    }
    out
}

fn walk<'a>(value: &'a Value, mut segments: std::str::Split<'_, char>, out: &mut Vec<&'a Value>) {
    let Some(segment) = segments.next() else {
        push_leaf(value, out);
        return;
    };
    let (key, each) = match segment.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (segment, false),
    };
    let Some(child) = value.get(key) else { return };
    if each {
        for element in child.as_array().into_iter().flatten() {
            walk(element, segments.clone(), out);
        }
    } else {
        walk(child, segments, out);
    }
}

fn push_leaf<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Null => {}
        // A list-valued leaf (a custom attribute holding several values) counts as several values.
        Value::Array(items) => out.extend(items.iter().filter(|v| !v.is_null())),
        other => out.push(other),
    }
}

pub(super) fn compare_for_sort(sort: &Sort, a: &Value, b: &Value) -> Ordering {
    let key_a = values_of(&sort.field, a).first().copied();
    let key_b = values_of(&sort.field, b).first().copied();
    let by_field = match (key_a, key_b) {
        (Some(x), Some(y)) => {
            let ordering = compare_values(sort.field.ty, x, y);
            match sort.order {
                SortOrder::Ascending => ordering,
                SortOrder::Descending => ordering.reverse(),
            }
        }
        // Items without a value go last whichever the direction.
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_field.then_with(|| id_of(a).cmp(&id_of(b)))
}

fn compare_values(ty: AttributeType, x: &Value, y: &Value) -> Ordering {
    match ty {
        AttributeType::Integer | AttributeType::Float | AttributeType::Date => match (number(x), number(y)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
        AttributeType::Boolean => boolean(x).cmp(&boolean(y)),
        AttributeType::String => {
            let x = text(x).map(|t| t.to_lowercase());
            let y = text(y).map(|t| t.to_lowercase());
            x.cmp(&y)
        }
    }
}

fn id_of(item: &Value) -> Option<String> {
    item.get("id").and_then(text)
}
