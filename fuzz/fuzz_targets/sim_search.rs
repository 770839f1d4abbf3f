//! The simulator's search parser and evaluator (crates/intercom-sim/src/search).
//!
//! Input: a request body as `POST /contacts/search` takes it, or a JSON array `[body, item, item]`
//! to evaluate it against two items of one's own. Checks: a refusal is a 400 with a code and a
//! message; an accepted request has a page size in 1..=150; matching is a pure function and takes any
//! item and workspace offset; a sort is a total order (reflexive, antisymmetric) over the items.
#![no_main]

use std::cmp::Ordering;
use std::collections::HashMap;

use intercom_sim::search::{AttributeType, MAX_PER_PAGE, SearchModel, parse_search};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn items(model: SearchModel) -> [Value; 2] {
    match model {
        SearchModel::Contacts => [
            json!({"type": "contact", "id": "a1", "role": "user", "email": "Ada@Example.com", "name": "Ada",
                   "created_at": 1_700_000_000, "location": {"country": "Ireland"},
                   "tags": {"data": [{"id": "81"}]}, "custom_attributes": {"plan": "Pro", "seats": 12}}),
            json!({"type": "contact", "id": "b2", "role": "lead", "email": null, "created_at": "1700086400",
                   "custom_attributes": {"plan": null, "ratio": 0.5, "vip": true}}),
        ],
        SearchModel::Conversations => [
            json!({"type": "conversation", "id": "515", "open": true, "state": "open", "created_at": 1_700_000_000,
                   "source": {"body": "<p>Hi, I need <b>billing</b> help.</p>", "author": {"email": "a@b.c"}},
                   "statistics": {"count_reopens": 2}}),
            json!({"type": "conversation", "id": "516", "open": false, "source": {"body": null}}),
        ],
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(data) else { return };
    let (body, own) = match &input {
        Value::Array(parts) if parts.len() == 3 => (&parts[0], Some([parts[1].clone(), parts[2].clone()])),
        _ => (&input, None),
    };
    let attrs: HashMap<String, AttributeType> = [
        ("plan", AttributeType::String),
        ("seats", AttributeType::Integer),
        ("ratio", AttributeType::Float),
        ("vip", AttributeType::Boolean),
        ("renewed_at", AttributeType::Date),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for model in [SearchModel::Contacts, SearchModel::Conversations] {
        let request = match parse_search(model, body, &attrs) {
            Ok(request) => request,
            Err(e) => {
                assert_eq!(e.status, 400);
                assert!(!e.code.is_empty() && !e.message.is_empty(), "{e:?}");
                assert_eq!(parse_search(model, body, &attrs), Err(e), "parsing is deterministic");
                continue;
            }
        };
        assert!((1..=MAX_PER_PAGE).contains(&request.per_page), "{}", request.per_page);
        let items = own.clone().unwrap_or_else(|| items(model));
        for item in &items {
            let matched = request.query.matches(item);
            assert_eq!(matched, request.query.matches(item), "matching is deterministic");
            assert_eq!(matched, request.query.matches_with_offset(item, 0));
            for offset in [i32::MIN, -12 * 3600, 14 * 3600, i32::MAX] {
                let _ = request.query.matches_with_offset(item, offset);
            }
        }
        if let Some(sort) = &request.sort {
            let [a, b] = &items;
            assert_eq!(sort.compare(a, a), Ordering::Equal, "a sort puts an item level with itself");
            assert_eq!(sort.compare(b, b), Ordering::Equal);
            assert_eq!(sort.compare(a, b), sort.compare(b, a).reverse(), "a sort is antisymmetric");
        }
    }
});
