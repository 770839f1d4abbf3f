use std::cmp::Ordering;
use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn attrs() -> HashMap<String, AttributeType> {
    HashMap::from([
        ("plan".to_owned(), AttributeType::String),
        ("seats".to_owned(), AttributeType::Integer),
        ("mrr".to_owned(), AttributeType::Float),
        ("vip".to_owned(), AttributeType::Boolean),
        ("renewal".to_owned(), AttributeType::Date),
    ])
}

fn contacts(body: Value) -> Result<SearchRequest, SearchError> {
    parse_search(SearchModel::Contacts, &body, &attrs())
}

fn conversations(body: Value) -> Result<SearchRequest, SearchError> {
    parse_search(SearchModel::Conversations, &body, &attrs())
}

fn filter(field: &str, op: &str, value: Value) -> Value {
    json!({"field": field, "operator": op, "value": value})
}

fn query(q: Value) -> Filter {
    match contacts(json!({ "query": q })) {
        Ok(request) => request.query,
        Err(e) => panic!("query should parse: {e}"),
    }
}

fn conversation_query(q: Value) -> Filter {
    match conversations(json!({ "query": q })) {
        Ok(request) => request.query,
        Err(e) => panic!("query should parse: {e}"),
    }
}

fn error(result: Result<SearchRequest, SearchError>) -> SearchError {
    match result {
        Ok(request) => panic!("expected an error, parsed {request:?}"),
        Err(e) => e,
    }
}

fn assert_error(result: Result<SearchRequest, SearchError>, code: &str, message: &str) {
    let e = error(result);
    assert_eq!((e.status, e.code.as_str(), e.message.as_str()), (400, code, message));
}

/// 2020-01-01T00:00:00Z, a Wednesday.
const JAN1: i64 = 1_577_836_800;
const DAY: i64 = 86_400;

fn contact() -> Value {
    json!({
        "type": "contact",
        "id": "6762f0d51bb69f9f2193bb7f",
        "role": "user",
        "name": "Ada Lovelace",
        "email": "Ada@Example.com",
        "email_domain": "example.com",
        "phone": null,
        "external_id": "u-1",
        "owner_id": 42,
        "created_at": JAN1 + 9 * 3600,
        "updated_at": JAN1 + 5 * DAY,
        "last_seen_at": null,
        "unsubscribed_from_emails": false,
        "has_hard_bounced": true,
        "avatar": {"type": "avatar", "image_url": "https://static.example.com/a.png"},
        "location": {"type": "location", "country": "United Kingdom", "region": "England", "city": "London"},
        "tags": {"type": "list", "data": [{"type": "tag", "id": "81"}, {"type": "tag", "id": "82"}], "has_more": false},
        "custom_attributes": {"plan": "Pro", "seats": 12, "mrr": 99.5, "vip": true, "renewal": JAN1 + 40 * DAY}
    })
}

fn conversation() -> Value {
    json!({
        "type": "conversation",
        "id": "515",
        "created_at": JAN1,
        "updated_at": JAN1 + DAY,
        "waiting_since": null,
        "open": true,
        "read": false,
        "state": "open",
        "priority": "not_priority",
        "admin_assignee_id": 991267459,
        "team_assignee_id": null,
        "source": {
            "type": "conversation",
            "id": "403918346",
            "delivered_as": "customer_initiated",
            "subject": "",
            "body": "<p>Hi, I need support with billing.</p>",
            "author": {"type": "user", "id": "6762f0d51bb69f9f2193bb7f", "name": "Ada", "email": "ada@example.com"}
        },
        "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": "c1"}, {"type": "contact", "id": "c2"}]},
        "teammates": {"type": "admin.list", "teammates": [{"type": "admin", "id": "991267459"}]},
        "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": "7", "name": "Billing"}]},
        "statistics": {"type": "conversation_statistics", "count_reopens": 2, "time_to_admin_reply": 1200},
        "conversation_rating": {"rating": 5, "remark": "great", "contact": {"type": "contact", "id": "c1"}, "teammate": {"type": "admin", "id": "991267459"}},
        "custom_attributes": {}
    })
}

// ---- Request shape ----

#[test]
fn defaults_per_model() {
    let q = filter("email", "=", json!("a@b.c"));
    let c = contacts(json!({"query": q})).expect("parses");
    assert_eq!((c.per_page, c.starting_after, c.sort), (50, None, None));
    let v = conversations(json!({"query": filter("state", "=", json!("open"))})).expect("parses");
    assert_eq!(v.per_page, 20);
}

#[test]
fn pagination_from_body() {
    let r = contacts(json!({
        "query": filter("email", "=", json!("a@b.c")),
        "pagination": {"per_page": 5, "starting_after": "WzE3MzQ1Mzc0MDAwMDAsIjEiXQ==", "page": 3}
    }))
    .expect("parses");
    assert_eq!(r.per_page, 5);
    assert_eq!(r.starting_after.as_deref(), Some("WzE3MzQ1Mzc0MDAwMDAsIjEiXQ=="));
    let max = contacts(json!({"query": filter("email", "=", json!("x")), "pagination": {"per_page": 150}}));
    assert_eq!(max.expect("150 is the maximum").per_page, 150);
}

#[test]
fn pagination_out_of_range() {
    for per_page in [json!(0), json!(151), json!(-1), json!("lots"), json!(2.5)] {
        let e = error(contacts(
            json!({"query": filter("email", "=", json!("x")), "pagination": {"per_page": per_page}}),
        ));
        assert_eq!(
            (e.status, e.code.as_str(), e.message.as_str()),
            (400, "parameter_invalid", "per_page must be an integer between 1 and 150"),
            "{per_page}"
        );
    }
    let e = error(contacts(
        json!({"query": filter("email", "=", json!("x")), "pagination": {"starting_after": 5}}),
    ));
    assert_eq!(e.code, "parameter_invalid");
    let e = error(contacts(json!({"query": filter("email", "=", json!("x")), "pagination": 5})));
    assert_eq!(e.code, "parameter_invalid");
}

#[test]
fn unknown_top_level_parameter() {
    assert_error(
        contacts(json!({"query": filter("email", "=", json!("x")), "random_param": 1})),
        "bad_request",
        "bad 'random_param' parameter",
    );
}

#[test]
fn missing_query() {
    assert_error(contacts(json!({})), "parameter_not_found", "'query' is a required parameter");
    assert_error(contacts(json!({"query": null})), "parameter_not_found", "'query' is a required parameter");
    assert_error(contacts(json!([1, 2])), "parameter_invalid", "The request body must be a JSON object");
}

#[test]
fn incomplete_filters() {
    let msg = "Invalid query. Ensure 'field', 'operator', 'value' are present for field queries. \
               Ensure 'operator' and 'value' for composite queries.";
    for q in [
        json!({"field": "email", "operator": "="}),
        json!({"field": "email", "value": "x"}),
        json!({"operator": "AND"}),
        json!({"value": []}),
        json!({"operator": "AND", "value": "not a list"}),
        json!({"operator": "AND", "value": [1]}),
        json!("email = x"),
        json!({"field": 3, "operator": "=", "value": "x"}),
    ] {
        assert_error(contacts(json!({"query": q})), "invalid_query", msg);
    }
}

#[test]
fn composite_operator_must_be_and_or() {
    for op in ["and", "NOT", "XOR"] {
        assert_error(
            contacts(json!({"query": {"operator": op, "value": [filter("email", "=", json!("x"))]}})),
            "invalid_operator",
            "Composite operators must be of type AND or OR ",
        );
    }
}

#[test]
fn unknown_fields() {
    assert_error(
        contacts(json!({"query": filter("not_a_field", "=", json!("x"))})),
        "invalid_field",
        "not_a_field is not a valid field",
    );
    // A conversation-only field on contacts and the reverse.
    assert_eq!(error(contacts(json!({"query": filter("state", "=", json!("open"))}))).code, "invalid_field");
    assert_eq!(
        error(conversations(json!({"query": filter("email", "=", json!("x"))}))).code,
        "invalid_field"
    );
    // A custom attribute the workspace has not defined.
    assert_error(
        contacts(json!({"query": filter("custom_attributes.nope", "=", json!("x"))})),
        "invalid_field",
        "custom_attributes.nope is not a valid field",
    );
    let none = parse_search(
        SearchModel::Contacts,
        &json!({"query": filter("custom_attributes.plan", "=", json!("x"))}),
        &NoCustomAttributes,
    );
    assert_eq!(error(none).code, "invalid_field");
}

// ---- Operator matrix ----

fn sample_value(ty: AttributeType, op: Operator) -> Value {
    let one = match ty {
        AttributeType::String => json!("abc"),
        AttributeType::Integer => json!(3),
        AttributeType::Float => json!(2.5),
        AttributeType::Boolean => json!(true),
        AttributeType::Date => json!(JAN1),
    };
    if matches!(op, Operator::In | Operator::Nin) { json!([one]) } else { one }
}

fn allowed(model: SearchModel, field: &str, ty: AttributeType, op: Operator) -> bool {
    let body = json!({"query": filter(field, op.as_str(), sample_value(ty, op))});
    match parse_search(model, &body, &attrs()) {
        Ok(_) => true,
        Err(e) => {
            assert_eq!(e.code, "invalid_operator", "{field} {op}: {e}");
            assert_eq!(e.message, format!("{field} does not support operator: {op}"));
            false
        }
    }
}

fn allowed_set(model: SearchModel, field: &str, ty: AttributeType) -> Vec<&'static str> {
    Operator::ALL.into_iter().filter(|op| allowed(model, field, ty, *op)).map(Operator::as_str).collect()
}

#[test]
fn operators_per_type_match_intercoms_table() {
    use AttributeType as T;
    use SearchModel::{Contacts as C, Conversations as V};
    let string = vec!["=", "!=", "IN", "NIN", "~", "!~", "^", "$"];
    let boolean = vec!["=", "!=", "IN", "NIN"];
    let numeric = vec!["=", "!=", "IN", "NIN", "<", "<=", ">", ">="];
    let date = vec!["=", "<", ">"];
    let id_only = vec!["=", "!="];
    let cases: &[(SearchModel, &str, T, &Vec<&str>)] = &[
        (C, "email", T::String, &string),
        (C, "location.country", T::String, &string),
        (C, "custom_attributes.plan", T::String, &string),
        (C, "has_hard_bounced", T::Boolean, &boolean),
        (C, "custom_attributes.vip", T::Boolean, &boolean),
        (C, "owner_id", T::Integer, &numeric),
        (C, "custom_attributes.seats", T::Integer, &numeric),
        (C, "custom_attributes.mrr", T::Float, &numeric),
        (C, "created_at", T::Date, &date),
        (C, "last_email_clicked_at", T::Date, &date),
        (C, "custom_attributes.renewal", T::Date, &date),
        (C, "tag_id", T::String, &id_only),
        (C, "segment_id", T::String, &id_only),
        (V, "state", T::String, &string),
        (V, "source.body", T::String, &string),
        (V, "open", T::Boolean, &boolean),
        (V, "admin_assignee_id", T::Integer, &numeric),
        (V, "statistics.count_reopens", T::Integer, &numeric),
        (V, "updated_at", T::Date, &date),
        (V, "statistics.last_close_at", T::Date, &date),
    ];
    for (model, field, ty, expected) in cases {
        assert_eq!(&allowed_set(*model, field, *ty), *expected, "{model:?} {field}");
    }
}

#[test]
fn unknown_operator_names_field() {
    assert_error(
        contacts(json!({"query": filter("email", "LIKE", json!("x"))})),
        "invalid_operator",
        "email does not support operator: LIKE",
    );
    // intercom-node#344: a composite operator on a field (real Intercom answered 500).
    assert_error(
        contacts(json!({"query": filter("email", "AND", json!("x"))})),
        "invalid_operator",
        "email does not support operator: AND",
    );
    assert_error(
        contacts(json!({"query": filter("email", ">", json!("x"))})),
        "invalid_operator",
        "email does not support operator: >",
    );
}

// ---- Values ----

#[test]
fn in_and_nin_need_arrays() {
    for op in ["IN", "NIN"] {
        let e = error(contacts(json!({"query": filter("email", op, json!("a@b.c"))})));
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("invalid_value", &*format!("{op} requires an array value for email"))
        );
    }
    let e = error(contacts(json!({"query": filter("email", "=", json!(["a@b.c"]))})));
    assert_eq!(e.code, "invalid_value");
    assert!(contacts(json!({"query": filter("email", "IN", json!([]))})).is_ok());
}

#[test]
fn type_mismatch_fails_the_query() {
    assert_error(
        contacts(json!({"query": filter("email", "=", json!(123))})),
        "invalid_value",
        "123 is not a valid string",
    );
    assert_error(
        contacts(json!({"query": filter("created_at", ">", json!("foorbar"))})),
        "invalid_value",
        "foorbar is not a valid date",
    );
    assert_error(
        contacts(json!({"query": filter("owner_id", "=", json!(1.5))})),
        "invalid_value",
        "1.5 is not a valid integer",
    );
    assert_error(
        contacts(json!({"query": filter("has_hard_bounced", "=", json!("yes"))})),
        "invalid_value",
        "yes is not a valid boolean",
    );
    assert_error(
        contacts(json!({"query": filter("custom_attributes.mrr", ">", json!("a lot"))})),
        "invalid_value",
        "a lot is not a valid float",
    );
    assert_error(
        contacts(json!({"query": filter("email", "IN", json!(["a", 7]))})),
        "invalid_value",
        "7 is not a valid string",
    );
    assert_eq!(
        error(contacts(json!({"query": filter("email", "IN", json!(["a", null]))}))).code,
        "invalid_value"
    );
    // Null only with = and !=.
    assert_eq!(error(contacts(json!({"query": filter("email", "~", json!(null))}))).code, "invalid_value");
}

#[test]
fn numeric_strings_accepted_for_dates_and_integers() {
    // Intercom's own SearchContacts example sends the timestamp as a string.
    let f = query(json!({"operator": "AND", "value": [filter("created_at", ">", json!("1306054154"))]}));
    assert!(f.matches(&contact()));
    assert!(query(filter("owner_id", "=", json!("42"))).matches(&contact()));
    assert!(query(filter("owner_id", "=", json!(42.0))).matches(&contact()));
}

// ---- Nesting and group size ----

fn nested(depth: usize) -> Value {
    let mut node = filter("email", "=", json!("a@b.c"));
    for level in 0..depth {
        let op = if level % 2 == 0 { "AND" } else { "OR" };
        node = json!({"operator": op, "value": [node, filter("name", "~", json!("ada"))]});
    }
    node
}

#[test]
fn nesting_limit_is_two_levels() {
    assert!(contacts(json!({"query": nested(0)})).is_ok());
    assert!(contacts(json!({"query": nested(1)})).is_ok());
    assert!(contacts(json!({"query": nested(2)})).is_ok());
    let e = error(contacts(json!({"query": nested(3)})));
    assert_eq!(e.code, "invalid_query");
    assert!(e.message.contains("2 levels"), "{}", e.message);
    // The documented example: (1 OR 2) AND (3 OR 4).
    let example = json!({"operator": "AND", "value": [
        {"operator": "OR", "value": [filter("created_at", ">", json!(1560436650)), filter("signed_up_at", ">", json!(1560436784))]},
        {"operator": "OR", "value": [filter("custom_attributes.plan", "~", json!("Open")), filter("role", "=", json!("lead"))]}
    ]});
    assert!(contacts(json!({"query": example})).is_ok());
}

#[test]
fn at_most_fifteen_filters_per_group() {
    let group = |n: usize| json!({"operator": "OR", "value": (0..n).map(|i| filter("email", "=", json!(format!("{i}@x.io")))).collect::<Vec<_>>()});
    assert!(contacts(json!({"query": group(15)})).is_ok());
    assert_error(
        contacts(json!({"query": group(16)})),
        "invalid_value",
        "Number of elements in composite query is greater than 15, please try again with a smaller list",
    );
    // The limit is per group: two groups of 15 inside one group of 2 is fine.
    assert!(contacts(json!({"query": {"operator": "AND", "value": [group(15), group(15)]}})).is_ok());
    // ... and it applies to nested groups too.
    assert_eq!(
        error(contacts(json!({"query": {"operator": "AND", "value": [group(16)]}}))).code,
        "invalid_value"
    );
    assert_eq!(error(contacts(json!({"query": group(0)}))).code, "invalid_query");
}

// ---- Sort ----

#[test]
fn sort_parsing() {
    let q = filter("email", "~", json!("@"));
    let r = contacts(json!({"query": q, "sort": {"field": "created_at"}})).expect("parses");
    let sort = r.sort.expect("sort");
    assert_eq!((sort.field(), sort.order), ("created_at", SortOrder::Descending));
    let r = contacts(json!({"query": q, "sort": {"field": "name", "order": "ascending"}})).expect("parses");
    assert_eq!(r.sort.expect("sort").order, SortOrder::Ascending);
    assert_error(
        contacts(json!({"query": q, "sort": {"field": "created_at", "order": "desc"}})),
        "invalid_sort_order",
        "Invalid sort order 'desc'. Must be one of: ascending, descending",
    );
    assert_eq!(error(contacts(json!({"query": q, "sort": {"field": "nope"}}))).code, "invalid_field");
    assert_eq!(
        error(contacts(json!({"query": q, "sort": {"order": "ascending"}}))).code,
        "parameter_not_found"
    );
}

#[test]
fn sort_compare_orders_by_value_then_id() {
    let r = contacts(json!({"query": filter("email", "~", json!("@")), "sort": {"field": "created_at", "order": "ascending"}}))
        .expect("parses");
    let sort = r.sort.expect("sort");
    let a = json!({"id": "a", "created_at": 10});
    let b = json!({"id": "b", "created_at": 20});
    let b2 = json!({"id": "c", "created_at": 20});
    let none = json!({"id": "0", "created_at": null});
    assert_eq!(sort.compare(&a, &b), Ordering::Less);
    assert_eq!(sort.compare(&b, &b2), Ordering::Less, "ties broken by id");
    assert_eq!(sort.compare(&none, &a), Ordering::Greater, "missing values last");
    let desc = contacts(json!({"query": filter("email", "~", json!("@")), "sort": {"field": "created_at"}}))
        .expect("parses")
        .sort
        .expect("sort");
    assert_eq!(desc.compare(&a, &b), Ordering::Greater);
    assert_eq!(desc.compare(&none, &a), Ordering::Greater, "missing values last in descending too");
    // Sorting uses the full timestamp, not the day.
    let early = json!({"id": "x", "created_at": JAN1 + 1});
    let late = json!({"id": "y", "created_at": JAN1 + 2});
    assert_eq!(sort.compare(&early, &late), Ordering::Less);
    let by_name = contacts(
        json!({"query": filter("email", "~", json!("@")), "sort": {"field": "name", "order": "ascending"}}),
    )
    .expect("parses")
    .sort
    .expect("sort");
    assert_eq!(
        by_name.compare(&json!({"id": "1", "name": "bob"}), &json!({"id": "2", "name": "Alice"})),
        Ordering::Greater
    );
}

// ---- Matching ----

#[test]
fn string_operators_ignore_case() {
    let c = contact();
    for (op, value, expected) in [
        ("=", "ada@example.com", true),
        ("=", "ADA@EXAMPLE.COM", true),
        ("=", "ada@example", false),
        ("!=", "ada@example.com", false),
        ("~", "EXAMPLE", true),
        ("~", "nope", false),
        ("!~", "nope", true),
        ("!~", "example", false),
        ("^", "ada@", true),
        ("^", "example", false),
        ("$", ".COM", true),
        ("$", "ada", false),
    ] {
        assert_eq!(query(filter("email", op, json!(value))).matches(&c), expected, "email {op} {value}");
    }
    assert!(query(filter("email", "IN", json!(["x@y.z", "ADA@example.com"]))).matches(&c));
    assert!(!query(filter("email", "NIN", json!(["x@y.z", "ADA@example.com"]))).matches(&c));
    assert!(query(filter("location.country", "~", json!("kingdom"))).matches(&c));
    assert!(query(filter("avatar", "$", json!("a.png"))).matches(&c));
}

#[test]
fn null_values_and_missing_fields() {
    let c = contact();
    assert!(query(filter("phone", "=", json!(null))).matches(&c));
    assert!(!query(filter("phone", "!=", json!(null))).matches(&c));
    assert!(query(filter("email", "!=", json!(null))).matches(&c));
    assert!(query(filter("last_seen_at", "=", json!(null))).matches(&c));
    // The string "null" is a value, not null (Intercom's docs make this very point).
    assert!(!query(filter("phone", "=", json!("null"))).matches(&c));
    // A field that is absent behaves like null: no value matches it, every negation does.
    assert!(!query(filter("browser", "=", json!("chrome"))).matches(&c));
    assert!(query(filter("browser", "!=", json!("chrome"))).matches(&c));
    assert!(!query(filter("browser", "~", json!("c"))).matches(&c));
    assert!(query(filter("browser", "!~", json!("c"))).matches(&c));
}

#[test]
fn integers_floats_and_booleans() {
    let c = contact();
    for (op, value, expected) in [
        ("=", 42, true),
        ("!=", 42, false),
        ("<", 43, true),
        ("<", 42, false),
        ("<=", 42, true),
        (">", 41, true),
        (">", 42, false),
        (">=", 42, true),
    ] {
        assert_eq!(
            query(filter("owner_id", op, json!(value))).matches(&c),
            expected,
            "owner_id {op} {value}"
        );
    }
    assert!(query(filter("owner_id", "IN", json!([1, 42]))).matches(&c));
    assert!(query(filter("custom_attributes.mrr", ">", json!(99.4))).matches(&c));
    assert!(!query(filter("custom_attributes.mrr", ">", json!(99.5))).matches(&c));
    assert!(query(filter("custom_attributes.seats", ">=", json!(12))).matches(&c));
    assert!(query(filter("has_hard_bounced", "=", json!(true))).matches(&c));
    assert!(query(filter("unsubscribed_from_emails", "!=", json!(true))).matches(&c));
    assert!(query(filter("custom_attributes.vip", "IN", json!([true]))).matches(&c));
    assert!(query(filter("custom_attributes.plan", "=", json!("pro"))).matches(&c));
}

#[test]
fn dates_match_by_calendar_day() {
    // created_at is 2020-01-01 09:00 UTC: the facts sheet's example.
    let c = contact();
    let at = |op: &str, value: i64| query(filter("created_at", op, json!(value))).matches(&c);
    assert!(at("=", JAN1), "= matches the whole day");
    assert!(at("=", JAN1 + DAY - 1), "any instant of the day names the day");
    assert!(!at("=", JAN1 + DAY));
    // `>` starts at the next day: 9:00 is not after "1 January 9:00" once cut to days.
    assert!(!at(">", JAN1 + 9 * 3600 - 1));
    assert!(!at(">", JAN1));
    assert!(at(">", JAN1 - 1));
    // `<` means before the start of that day.
    assert!(!at("<", JAN1 + 23 * 3600));
    assert!(at("<", JAN1 + DAY));
    assert!(query(filter("custom_attributes.renewal", ">", json!(JAN1 + 39 * DAY))).matches(&c));
    assert!(query(filter("custom_attributes.renewal", "=", json!(JAN1 + 40 * DAY + 5))).matches(&c));
}

#[test]
fn dates_use_the_workspace_timezone() {
    // created_at is 2020-01-01 09:00 UTC: 23:00 on 31 December in Honolulu (UTC-10), 19:00 on
    // 1 January in Sydney (UTC+10).
    let c = contact();
    let honolulu = -10 * 3600;
    let sydney = 10 * 3600;
    // JAN1 (00:00 UTC) is 14:00 on 31 December in Honolulu: the same local day as created_at.
    let jan1 = query(filter("created_at", "=", json!(JAN1)));
    assert!(jan1.matches(&c));
    assert!(jan1.matches_with_offset(&c, honolulu));
    // Noon UTC is 02:00 on 1 January in Honolulu, a day after created_at there.
    let jan1_noon = query(filter("created_at", "=", json!(JAN1 + 12 * 3600)));
    assert!(jan1_noon.matches(&c));
    assert!(!jan1_noon.matches_with_offset(&c, honolulu));
    assert!(query(filter("created_at", "<", json!(JAN1 + 12 * 3600))).matches_with_offset(&c, honolulu));
    // One second before JAN1 is 31 December in UTC but 09:59:59 on 1 January in Sydney.
    let just_before = query(filter("created_at", "=", json!(JAN1 - 1)));
    assert!(!just_before.matches(&c));
    assert!(just_before.matches_with_offset(&c, sydney));
    assert!(query(filter("created_at", ">", json!(JAN1 - 1))).matches(&c));
    assert!(!query(filter("created_at", ">", json!(JAN1 - 1))).matches_with_offset(&c, sydney));
}

#[test]
fn tags_and_segments_on_contacts() {
    let c = contact();
    assert!(query(filter("tag_id", "=", json!("82"))).matches(&c));
    assert!(!query(filter("tag_id", "=", json!("83"))).matches(&c));
    assert!(query(filter("tag_id", "!=", json!("83"))).matches(&c));
    assert!(!query(filter("tag_id", "!=", json!("81"))).matches(&c), "!= means the contact lacks the tag");
    let mut with_segments = c.clone();
    with_segments["segment_ids"] = json!(["s1"]);
    assert!(query(filter("segment_id", "=", json!("s1"))).matches(&with_segments));
    assert!(!query(filter("segment_id", "=", json!("s1"))).matches(&c));
}

#[test]
fn conversation_fields() {
    let v = conversation();
    let at = |f: Value| conversation_query(f).matches(&v);
    assert!(at(filter("state", "=", json!("open"))));
    assert!(at(filter("open", "=", json!(true))));
    assert!(at(filter("read", "=", json!(false))));
    assert!(at(filter("admin_assignee_id", "=", json!(991267459))));
    assert!(at(filter("admin_assignee_id", "=", json!("991267459"))));
    assert!(at(filter("team_assignee_id", "=", json!(null))));
    assert!(at(filter("contact_ids", "=", json!("c2"))));
    assert!(at(filter("contact_ids", "IN", json!(["c9", "c1"]))));
    assert!(!at(filter("contact_ids", "NIN", json!(["c9", "c1"]))));
    assert!(at(filter("teammate_ids", "=", json!("991267459"))));
    assert!(at(filter("tag_ids", "=", json!("7"))));
    assert!(at(filter("source.author.email", "=", json!("ADA@example.com"))));
    assert!(at(filter("statistics.count_reopens", ">", json!(1))));
    assert!(at(filter("conversation_rating.score", "=", json!(5))));
    assert!(at(filter("conversation_rating.contact_id", "=", json!("c1"))));
    assert!(at(filter("conversation_rating.admin_d", "=", json!("991267459"))));
    assert!(at(filter("updated_at", ">", json!(JAN1))));
    assert!(at(filter("waiting_since", "=", json!(null))));
    // State and assignee, as the issue asks for.
    assert!(at(json!({"operator": "AND", "value": [
        filter("state", "IN", json!(["open", "snoozed"])),
        filter("admin_assignee_id", "=", json!(991267459))
    ]})));
}

#[test]
fn conversation_body_matches_per_word() {
    let v = conversation();
    let body =
        |op: &str, value: &str| conversation_query(filter("source.body", op, json!(value))).matches(&v);
    // The docs' own example: "I need support" matches `= support` and not `= need support`.
    assert!(body("=", "support"));
    assert!(body("=", "SUPPORT"));
    assert!(!body("=", "need support"));
    assert!(body("=", "billing"), "punctuation is not part of a word");
    assert!(!body("=", "p"), "HTML tags are not words");
    assert!(body("~", "bill"));
    assert!(body("^", "supp"));
    assert!(body("!=", "refund"));
    assert!(!body("!=", "support"));
}

#[test]
fn groups_combine() {
    let c = contact();
    let yes = filter("email", "~", json!("ada"));
    let no = filter("email", "~", json!("bob"));
    assert!(query(json!({"operator": "AND", "value": [yes, yes]})).matches(&c));
    assert!(!query(json!({"operator": "AND", "value": [yes, no]})).matches(&c));
    assert!(query(json!({"operator": "OR", "value": [no, yes]})).matches(&c));
    assert!(!query(json!({"operator": "OR", "value": [no, no]})).matches(&c));
    let nested = json!({"operator": "AND", "value": [
        {"operator": "OR", "value": [no, yes]},
        {"operator": "OR", "value": [filter("tag_id", "=", json!("81")), no]}
    ]});
    assert!(query(nested).matches(&c));
}

#[test]
fn condition_accessors() {
    match query(filter("created_at", ">", json!(JAN1))) {
        Filter::Condition(c) => {
            assert_eq!(
                (c.field(), c.operator(), c.field_type()),
                ("created_at", Operator::Gt, AttributeType::Date)
            );
        }
        other => panic!("expected a condition, got {other:?}"),
    }
    for op in Operator::ALL {
        assert_eq!(Operator::parse(op.as_str()), Some(op));
        assert_eq!(op.to_string(), op.as_str());
    }
    assert_eq!(Operator::parse("in"), None, "operators are case-sensitive, like Intercom's enum");
}

// ---- Properties ----

/// A contact-like item with a bounded vocabulary so that filters match often enough to be interesting.
fn arb_item() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(prop::sample::select(vec![
            "ada@example.com",
            "bob@test.io",
            "Carol@Example.com",
            "",
        ])),
        proptest::option::of(0i64..5),
        proptest::option::of(any::<bool>()),
        proptest::option::of(JAN1 - 3 * DAY..JAN1 + 3 * DAY),
        prop::collection::vec(prop::sample::select(vec!["1", "2", "3"]), 0..3),
    )
        .prop_map(|(email, owner, bounced, created, tags)| {
            json!({
                "id": "x",
                "email": email,
                "owner_id": owner,
                "has_hard_bounced": bounced,
                "created_at": created,
                "tags": {"data": tags.iter().map(|id| json!({"type": "tag", "id": id})).collect::<Vec<_>>()}
            })
        })
}

/// A single filter that parses, over the fields of `arb_item`.
fn arb_condition() -> impl Strategy<Value = Value> {
    let email = (
        prop::sample::select(vec!["=", "!=", "~", "!~", "^", "$"]),
        prop::sample::select(vec!["ada", "example.com", "ADA@example.com", "@", "zzz"]),
    )
        .prop_map(|(op, v)| filter("email", op, json!(v)));
    let owner = (prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="]), 0i64..5)
        .prop_map(|(op, v)| filter("owner_id", op, json!(v)));
    let bounced = (prop::sample::select(vec!["=", "!="]), any::<bool>())
        .prop_map(|(op, v)| filter("has_hard_bounced", op, json!(v)));
    let created = (prop::sample::select(vec!["=", "<", ">"]), JAN1 - 3 * DAY..JAN1 + 3 * DAY)
        .prop_map(|(op, v)| filter("created_at", op, json!(v)));
    let tag = (prop::sample::select(vec!["=", "!="]), prop::sample::select(vec!["1", "2", "4"]))
        .prop_map(|(op, v)| filter("tag_id", op, json!(v)));
    let in_list = (prop::sample::select(vec!["IN", "NIN"]), prop::collection::vec(0i64..5, 0..4))
        .prop_map(|(op, v)| filter("owner_id", op, json!(v)));
    prop_oneof![email, owner, bounced, created, tag, in_list]
}

proptest! {
    #[test]
    fn and_matches_iff_every_filter_matches(item in arb_item(), conditions in prop::collection::vec(arb_condition(), 1..=15)) {
        let each: Vec<bool> = conditions.iter().map(|c| query(c.clone()).matches(&item)).collect();
        let and = query(json!({"operator": "AND", "value": conditions.clone()})).matches(&item);
        let or = query(json!({"operator": "OR", "value": conditions})).matches(&item);
        prop_assert_eq!(and, each.iter().all(|m| *m));
        prop_assert_eq!(or, each.iter().any(|m| *m));
    }

    #[test]
    fn negations_are_complements(item in arb_item(), values in prop::collection::vec(0i64..5, 0..4), text in "[a-zA-Z@.]{0,4}", n in 0i64..5) {
        let m = |q: Value| query(q).matches(&item);
        prop_assert_eq!(m(filter("owner_id", "NIN", json!(values))), !m(filter("owner_id", "IN", json!(values))));
        prop_assert_eq!(m(filter("owner_id", "!=", json!(n))), !m(filter("owner_id", "=", json!(n))));
        prop_assert_eq!(m(filter("email", "!~", json!(text))), !m(filter("email", "~", json!(text))));
        prop_assert_eq!(m(filter("email", "!=", json!(null))), !m(filter("email", "=", json!(null))));
        // IN is the OR of its elements.
        let or_of_eq = values.iter().any(|v| m(filter("owner_id", "=", json!(v))));
        prop_assert_eq!(m(filter("owner_id", "IN", json!(values))), or_of_eq);
    }

    #[test]
    fn nesting_limit_enforced_at_exactly_depth_three(depth in 0usize..6) {
        let result = contacts(json!({"query": nested(depth)}));
        prop_assert_eq!(result.is_ok(), depth <= MAX_GROUP_DEPTH);
    }

    #[test]
    fn group_size_limit(n in 1usize..30) {
        let group = json!({"operator": "AND", "value": (0..n).map(|_| filter("email", "~", json!("a"))).collect::<Vec<_>>()});
        prop_assert_eq!(contacts(json!({"query": group})).is_ok(), n <= MAX_FILTERS_PER_GROUP);
    }

    #[test]
    fn date_operators_partition_days(created in -10_000_000i64..10_000_000_000, bound in -10_000_000i64..10_000_000_000, offset in -14 * 3600i32..=14 * 3600) {
        // Exactly one of <, =, > holds for a present date, in any timezone.
        let item = json!({"id": "x", "created_at": created});
        let hits = ["<", "=", ">"]
            .iter()
            .filter(|op| query(filter("created_at", op, json!(bound))).matches_with_offset(&item, offset))
            .count();
        prop_assert_eq!(hits, 1);
        // And `=` holds exactly when both instants fall on the same local day.
        let same_day = (created + i64::from(offset)).div_euclid(DAY) == (bound + i64::from(offset)).div_euclid(DAY);
        prop_assert_eq!(query(filter("created_at", "=", json!(bound))).matches_with_offset(&item, offset), same_day);
    }

    #[test]
    fn string_matching_ignores_case(word in "[a-zA-Z]{1,8}", prefix in "[a-z]{0,3}", suffix in "[a-z]{0,3}") {
        let item = json!({"id": "x", "name": format!("{prefix}{word}{suffix}")});
        prop_assert!(query(filter("name", "~", json!(word.to_uppercase()))).matches(&item));
        prop_assert!(query(filter("name", "~", json!(word.to_lowercase()))).matches(&item));
        let full = format!("{prefix}{word}{suffix}").to_uppercase();
        prop_assert!(query(filter("name", "=", json!(full))).matches(&item));
        let head = format!("{prefix}{word}");
        let tail = format!("{word}{suffix}").to_uppercase();
        prop_assert!(query(filter("name", "^", json!(head))).matches(&item));
        prop_assert!(query(filter("name", "$", json!(tail))).matches(&item));
    }

    #[test]
    fn sort_compare_is_a_total_order(xs in prop::collection::vec((proptest::option::of(0i64..4), "[a-c]"), 1..12), ascending in any::<bool>()) {
        let order = if ascending { "ascending" } else { "descending" };
        let sort = contacts(json!({"query": filter("email", "~", json!("@")), "sort": {"field": "owner_id", "order": order}}))
            .expect("parses")
            .sort
            .expect("sort");
        let items: Vec<Value> = xs.iter().map(|(v, id)| json!({"id": id, "owner_id": v})).collect();
        for a in &items {
            prop_assert_eq!(sort.compare(a, a), Ordering::Equal);
            for b in &items {
                prop_assert_eq!(sort.compare(a, b), sort.compare(b, a).reverse());
                for c in &items {
                    if sort.compare(a, b) != Ordering::Greater && sort.compare(b, c) != Ordering::Greater {
                        prop_assert_ne!(sort.compare(a, c), Ordering::Greater);
                    }
                }
            }
        }
    }

    #[test]
    fn parse_never_panics(body in arb_json()) {
        let _ = contacts(json!({"query": body.clone()}));
        let _ = conversations(body);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        prop::sample::select(vec!["=", "IN", "AND", "OR", "email", "created_at", "field", "x"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::hash_map(
                prop::sample::select(vec![
                    "field",
                    "operator",
                    "value",
                    "query",
                    "pagination",
                    "sort",
                    "per_page"
                ]),
                inner,
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}
