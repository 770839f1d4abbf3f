//! Tests of the harness itself: it must accept the description's own examples and reject broken
//! payloads, or a green conformance test would mean nothing.

use serde_json::{Value, json};

use super::*;

fn spec() -> &'static Spec {
    Spec::get()
}

/// The description's example responses: (operation, status key, example name, schema, value).
fn examples() -> Vec<(String, String, String, Value, Value)> {
    let spec = spec();
    let mut out = Vec::new();
    for op in spec.operations() {
        let Some(responses) = op.raw.get("responses").and_then(Value::as_object) else {
            continue;
        };
        for status in responses.keys() {
            let Ok(code) = status.parse::<u16>() else { continue };
            let Some((key, schema)) = spec.response_schema(op, code) else {
                continue;
            };
            let Some((_, response)) = spec.response_for(op, code) else {
                continue;
            };
            let Some(media) = response.get("content").and_then(|c| c.get("application/json")) else {
                continue;
            };
            if let Some(examples) = media.get("examples").and_then(Value::as_object) {
                for (name, example) in examples {
                    if let Some(value) = example.get("value") {
                        out.push((op.id.clone(), key.clone(), name.clone(), schema.clone(), value.clone()));
                    }
                }
            }
            if let Some(value) = media.get("example") {
                out.push((op.id.clone(), key.clone(), "example".into(), schema.clone(), value.clone()));
            }
        }
    }
    out
}

#[test]
fn description_is_present_and_complete() {
    let spec = spec();
    // 2.15 has 118 paths; a truncated or wrong file would have far fewer operations.
    assert!(spec.operations().len() > 150, "only {} operations", spec.operations().len());
    for id in ["ListContacts", "SearchContacts", "ShowContact", "searchConversations", "identifyAdmin"] {
        assert!(spec.operation(id).is_some(), "{id} missing");
    }
}

/// Examples in the description that contradict the description's own schema: they are wrong in the
/// description, not in the harness, so the harness rejects them. Listed so that a new error in the
/// harness cannot hide among them; each must still be rejected (see the test below).
const SPEC_ERRATA: &[(&str, &str, &str, &str)] = &[
    (
        "listActivityLogs",
        "200",
        "Successful response",
        "metadata.before/after are strings; the schema says object",
    ),
    (
        "setAwayAdmin",
        "200",
        "Successful response",
        "away_status_reason_id is \"12345\"; the schema says integer",
    ),
    (
        "retrieveBrand",
        "404",
        "Brand not found",
        "request_id \"req_12345\" is not the uuid the error schema requires",
    ),
    ("retrieveEmail", "404", "Email setting not found", "request_id \"req_12345\" is not a uuid"),
    (
        "retrieveConversation",
        "200",
        "conversation found",
        "conversation_parts[].id are integers; the schema says string",
    ),
    (
        "updateConversation",
        "200",
        "update a conversation with an association to a custom object instance",
        "a custom-object list as a custom attribute value, which custom_attributes does not allow",
    ),
    (
        "getCustomObjectInstancesByExternalId",
        "200",
        "successful",
        "a float custom attribute; the schema says string",
    ),
    ("createCustomObjectInstances", "200", "successful", "a float custom attribute; the schema says string"),
    ("getCustomObjectInstancesById", "200", "successful", "a float custom attribute; the schema says string"),
    ("retrieveVisitorWithUserId", "200", "successful", "email \"\" is not format: email"),
    ("updateVisitor", "200", "successful", "email \"\" is not format: email"),
];

#[test]
fn accepts_the_descriptions_own_examples() {
    let spec = spec();
    let examples = examples();
    assert!(examples.len() > 300, "only {} examples found", examples.len());
    let mut failures = Vec::new();
    let mut errata_seen = Vec::new();
    for (op_id, key, name, _schema, value) in &examples {
        let op = spec.operation(op_id).expect("operation of an example");
        let Ok(status) = key.parse::<u16>() else { continue };
        let result = spec.validate_operation(op, status, Some(value));
        let erratum = SPEC_ERRATA.iter().find(|(o, k, n, _)| o == op_id && k == key && n == name);
        match (result, erratum) {
            (Ok(_), None) => {}
            (Err(violation), None) => failures.push(violation.to_string()),
            (Err(_), Some(erratum)) => errata_seen.push(*erratum),
            (Ok(_), Some(erratum)) => {
                failures.push(format!("erratum {erratum:?} is accepted: remove it from SPEC_ERRATA"))
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples rejected:\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
    assert_eq!(errata_seen.len(), SPEC_ERRATA.len(), "errata not found among the examples: {SPEC_ERRATA:?}");
}

#[test]
fn rejects_broken_payloads() {
    let spec = spec();
    let error = json!({"type": "error.list", "request_id": "f93ecfa8-d08a-4325-8694-89aeb89c8f85",
                       "errors": [{"code": "unauthorized", "message": "Access Token Invalid"}]});
    assert!(spec.validate("GET", "/me", 401, Some(&error)).is_ok());
    let broken_errors = [
        json!({"request_id": null, "errors": [{"code": "x"}]}), // no type
        json!({"type": "error.list", "errors": [{"message": "no code"}]}), // errors[].code required
        json!({"type": "error.list", "errors": {"code": "x"}}), // errors not an array
        json!({"type": "error.list", "request_id": "not-a-uuid", "errors": []}), // request_id format
        json!({"type": "error.list", "request_id": 5, "errors": [{"code": "x"}]}), // wrong type
        json!({"type": "error.list", "errors": [{"code": "x", "message": 3}]}), // message type
    ];
    for body in &broken_errors {
        assert!(spec.validate("GET", "/me", 401, Some(body)).is_err(), "accepted {body}");
    }

    let list = json!({"type": "list", "data": [], "total_count": 0,
                      "pages": {"type": "pages", "page": 1, "per_page": 10, "total_pages": 0}});
    assert!(spec.validate("GET", "/contacts", 200, Some(&list)).is_ok());
    for (pointer, bad) in [
        ("/type", json!("contact.list")),                 // enum [list]
        ("/total_count", json!("0")),                     // integer
        ("/data", json!({})),                             // array
        ("/pages/type", json!("page")),                   // enum [pages]
        ("/pages/page", json!(1.5)),                      // integer
        ("/data", json!([{"type": "contact", "id": 5}])), // contact.id is a string
    ] {
        let mut body = list.clone();
        if let Some(slot) = body.pointer_mut(pointer) {
            *slot = bad.clone();
        }
        let result = spec.validate("GET", "/contacts", 200, Some(&body));
        assert!(result.is_err(), "accepted {pointer} = {bad}");
    }
    // Documented statuses without a JSON body, and undocumented success statuses, are failures too.
    assert!(spec.validate("GET", "/me", 201, Some(&json!({}))).is_err());
    assert!(spec.validate("GET", "/contacts", 200, None).is_err());
    assert!(spec.validate("GET", "/no/such/path", 200, Some(&json!({}))).is_err());
}

#[test]
fn admin_example_breaks_when_mangled() {
    let spec = spec();
    let op = spec.operation("identifyAdmin").expect("identifyAdmin");
    let (_, schema) = spec.response_schema(op, 200).expect("200 schema");
    let (_, _, _, _, example) = examples()
        .into_iter()
        .find(|(id, key, ..)| id == "identifyAdmin" && key == "200")
        .expect("an example for /me");
    assert!(spec.check_against("me-ok", &schema, &example).is_ok());
    let mut mangled = example.clone();
    mangled["email_verified"] = json!("yes");
    assert!(spec.check_against("me-ok", &schema, &mangled).is_err());
    let mut mangled = example;
    mangled["app"]["created_at"] = json!("yesterday");
    assert!(spec.check_against("me-ok", &schema, &mangled).is_err());
}

#[test]
fn pages_next_exception_follows_real_behaviour() {
    let spec = spec();
    let page = |next: Value| {
        json!({"type": "list", "data": [], "total_count": 30,
               "pages": {"type": "pages", "page": 1, "per_page": 10, "total_pages": 3, "next": next}})
    };
    let real = page(json!({"page": 2, "starting_after": "WzE3MzQ1Mzc0MDAwMDAsIjEiXQ=="}));
    let checked = spec.validate("GET", "/contacts", 200, Some(&real)).expect("real shape accepted");
    assert_eq!(checked.exceptions_applied, vec!["/pages/next"]);
    assert!(spec.validate("POST", "/contacts/search", 200, Some(&real)).is_ok());
    // The description's own shape is not what Intercom sends, and the exception checks the real one strictly.
    for wrong in [
        json!({"per_page": 10, "starting_after": "abc"}),
        json!({"page": 2}),
        json!({"page": 1, "starting_after": "abc"}),
        json!({"page": 2, "starting_after": ""}),
        json!("https://api.intercom.io/contacts?page=2"),
    ] {
        assert!(
            spec.validate("GET", "/contacts", 200, Some(&page(wrong.clone()))).is_err(),
            "accepted next = {wrong}"
        );
    }
    let mut last = page(json!(null));
    assert!(spec.validate("GET", "/contacts", 200, Some(&last)).is_ok(), "null next on the last page");
    if let Some(pages) = last["pages"].as_object_mut() {
        pages.remove("next");
    }
    let checked = spec.validate("GET", "/contacts", 200, Some(&last)).expect("absent next");
    assert!(checked.exceptions_applied.is_empty());
}

#[test]
fn undocumented_error_status_uses_the_error_schema() {
    let spec = spec();
    let conflict = json!({"type": "error.list", "request_id": "f93ecfa8-d08a-4325-8694-89aeb89c8f85",
                          "errors": [{"code": "conflict", "message": "A contact matching those details already exists with id=1"}]});
    let checked = spec.validate("POST", "/contacts", 409, Some(&conflict)).expect("409 as error list");
    assert_eq!(checked.schema_key, "error");
    assert!(spec.validate("POST", "/contacts", 409, Some(&json!({"message": "conflict"}))).is_err());
    assert!(spec.validate("POST", "/contacts", 409, None).is_err());
}

#[test]
fn operation_lookup_prefers_literal_segments() {
    let spec = spec();
    let id = |method: &str, path: &str| spec.operation_for(method, path).map(|op| op.id.clone());
    assert_eq!(id("POST", "/contacts/search").as_deref(), Some("SearchContacts"));
    assert_eq!(id("GET", "/contacts/6762f0d51bb69f9f2193bb7f").as_deref(), Some("ShowContact"));
    assert_eq!(id("get", "/contacts/find_by_external_id/u-1").as_deref(), Some("ShowContactByExternalId"));
    assert_eq!(id("GET", "/contacts?per_page=5").as_deref(), Some("ListContacts"));
    assert_eq!(id("GET", "/companies/scroll").as_deref(), Some("scrollOverAllCompanies"));
    assert_eq!(id("PATCH", "/contacts"), None);
}

#[test]
fn missing_description_says_where_and_how() {
    let error = Spec::load(Path::new("/nonexistent/intercom-openapi-2.15.yaml")).expect_err("missing file");
    let message = error.to_string();
    assert!(message.contains("/nonexistent/intercom-openapi-2.15.yaml"), "{message}");
    assert!(message.contains(PATH_VAR), "{message}");
    assert!(message.contains("../shared/reference/"), "{message}");
    assert!(default_path().ends_with("shared/reference/intercom-openapi-2.15.yaml"));
}

#[test]
fn conversion_of_openapi_specifics() {
    assert_eq!(
        convert(&json!({"type": "string", "nullable": true, "example": "x"})),
        json!({"type": ["string", "null"]})
    );
    assert_eq!(
        convert(&json!({"type": "string", "enum": ["a", "b"], "nullable": true})),
        json!({"type": ["string", "null"], "enum": ["a", "b", null]})
    );
    assert_eq!(
        convert(&json!({"$ref": "#/components/schemas/company", "nullable": true, "description": "d"})),
        json!({"anyOf": [{"$ref": "#/$defs/company"}, {"type": "null"}]})
    );
    assert_eq!(
        convert(&json!({"$ref": "#/components/schemas/company", "description": "ignored in 3.0"})),
        json!({"$ref": "#/$defs/company"})
    );
    assert_eq!(
        convert(&json!({"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": true})),
        json!({"anyOf": [{"oneOf": [{"type": "string"}, {"type": "integer"}]}, {"type": "null"}]})
    );
    assert_eq!(
        convert(
            &json!({"type": "object", "x-tags": ["A"], "properties": {"example": {"type": "integer", "nullable": true}},
                        "items": {"$ref": "#/components/schemas/tag"}})
        ),
        json!({"type": "object", "properties": {"example": {"type": ["integer", "null"]}}, "items": {"$ref": "#/$defs/tag"}})
    );
    // `format: uri` is read as uri-reference: the description's URLs are relative.
    assert_eq!(
        convert(&json!({"type": "string", "format": "uri", "example": "/contacts/1/notes"})),
        json!({"type": "string", "format": "uri-reference"})
    );
    let relative = convert(&json!({"type": "string", "format": "uri"}));
    assert!(
        spec().check_against("uri", &relative, &json!("/contacts/5ba682d23d7cf92bef87bfd4/tags")).is_ok()
    );
    assert!(
        spec().check_against("uri", &relative, &json!("https://static.intercomassets.com/a.png")).is_ok()
    );
    assert!(spec().check_against("uri", &relative, &json!("not a url")).is_err());
    // A nullable schema accepts null and still rejects other types.
    let spec = spec();
    let schema = convert(&json!({"type": "integer", "nullable": true}));
    assert!(spec.check_against("nullable-int", &schema, &json!(null)).is_ok());
    assert!(spec.check_against("nullable-int", &schema, &json!(3)).is_ok());
    assert!(spec.check_against("nullable-int", &schema, &json!("3")).is_err());
}

#[test]
fn take_at_wildcards() {
    let mut value = json!({"a": [{"b": 1, "c": 2}, {"b": 3}], "pages": {"next": {"page": 2}}});
    let taken = take_at(&mut value, "/a/*/b");
    assert_eq!(taken, vec![("/a/0/b".to_owned(), json!(1)), ("/a/1/b".to_owned(), json!(3))]);
    assert_eq!(value["a"], json!([{"c": 2}, {}]));
    assert_eq!(take_at(&mut value, "/pages/next"), vec![("/pages/next".to_owned(), json!({"page": 2}))]);
    assert_eq!(take_at(&mut value, "/pages/next"), vec![]);
    assert_eq!(take_at(&mut value, "/nothing/here"), vec![]);
}

#[test]
fn every_exception_names_known_operations_and_a_reason() {
    let spec = spec();
    for exception in EXCEPTIONS {
        assert!(exception.pointer.starts_with('/'), "{}", exception.pointer);
        assert!(exception.reason.contains("Facts sheet §"), "{}", exception.reason);
        for op in exception.operations {
            assert!(spec.operation(op).is_some(), "unknown operation {op}");
        }
        // The real-behaviour schema compiles.
        let key = format!("compile-check {}", exception.pointer);
        assert!(spec.validator(&key, &(exception.real_schema)()).is_ok(), "{key}");
    }
    assert!(UNDOCUMENTED_ERROR_STATUS.contains("§3.3"));
}

#[test]
fn known_violations_match_narrowly() {
    use super::known_violations::{KnownViolation, pointer_matches};
    assert!(pointer_matches("/data/*/email", "/data/3/email"));
    assert!(!pointer_matches("/data/*/email", "/data/3/email/x"));
    assert!(!pointer_matches("/data/*/email", "/email"));
    assert!(pointer_matches("/email", "/email"));
    let spec = spec();
    for known in KNOWN_VIOLATIONS {
        for op in known.operations {
            assert!(spec.operation(op).is_some(), "unknown operation {op}");
        }
        assert!(!known.what.is_empty() && !known.message.is_empty());
    }
    let known = KnownViolation {
        operations: &["ListContacts"],
        pointers: &["/email", "/data/*/email"],
        message: "null is not of type \"string\"",
        what: "example",
    };
    let error = SchemaError {
        at: "/data/0/email".into(),
        message: "null is not of type \"string\"".into(),
        schema: "/$defs/contact/properties/email/type".into(),
    };
    assert!(known.covers("ListContacts", &error));
    // Not on another operation, at another place, or for another problem.
    assert!(!known.covers("listConversations", &error));
    let elsewhere = SchemaError { at: "/data/0/name".into(), ..error.clone() };
    assert!(!known.covers("ListContacts", &elsewhere));
    let other = SchemaError { message: "5 is not of type \"string\"".into(), ..error };
    assert!(!known.covers("ListContacts", &other));
}
