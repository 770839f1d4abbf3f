//! Search queries and custom attributes are checked before sending: a bad one is an error that
//! names what is wrong, and the simulator counts no request for it.

use futures::TryStreamExt;
use intercom_api::attributes::AttributeProblem;
use intercom_api::models::{AttributeModel, DataType, NewDataAttribute};
use intercom_api::search::{Filter, Search};
use intercom_api::{ErrorKind, NewContact};
use intercom_sim::SimConfig;
use serde_json::json;

use crate::support::TestSim;

#[tokio::test]
async fn invalid_queries_name_the_filter_and_send_nothing() {
    let t = TestSim::start(SimConfig::default().seed_contacts(20)).await;
    let client = t.client().build().expect("client");
    let cases = [
        (
            Filter::and([Filter::eq("role", "user"), Filter::new("created_at", ">=", 1_700_000_000)]),
            "query.value[1]",
        ),
        (Filter::new("email", "IN", "a@example.com"), "query"),
        (Filter::and([Filter::or([Filter::and([Filter::eq("name", "x")])])]), "query.value[0].value[0]"),
        (Filter::or((0..16).map(|n| Filter::eq("external_id", n.to_string()))), "query"),
        (
            Filter::and([
                Filter::gt("custom_attributes.trial_ends_at", 1),
                Filter::new("custom_attributes.trial_ends_at", "<=", 5),
            ]),
            "query.value[1]",
        ),
        (Filter::eq("custom_attributes.no_such_attribute", "x"), "query"),
    ];
    for (query, path) in cases {
        let mut results = client.contacts().search(query);
        let e = results.try_next().await.expect_err("rejected before sending");
        assert_eq!(e.kind(), ErrorKind::InvalidQuery, "{e}");
        assert_eq!(e.query_error().map(|q| q.path.as_str()), Some(path), "{e}");
        assert_eq!(e.attempts(), 0);
    }
    assert_eq!(t.count_all("POST /contacts/search"), 0, "no invalid query reached the server");
    assert_eq!(
        t.count_all("GET /data_attributes"),
        1,
        "the schema for custom attribute types is fetched once"
    );

    // A valid query with a typed custom attribute runs.
    let query =
        Filter::and([Filter::is_in("role", ["user", "lead"]), Filter::gt("custom_attributes.seats", 0)]);
    let found: Vec<_> =
        client.contacts().search(Search::new(query).per_page(7)).try_collect().await.expect("valid query");
    assert!(!found.is_empty() && found.len() <= 20);
}

#[tokio::test]
async fn invalid_custom_attributes_list_every_problem_and_send_nothing() {
    let t = TestSim::start(SimConfig::default()).await;
    let client = t.client().build().expect("client");
    let contact = NewContact::user("attrs-1")
        .attribute("plan", 42)
        .attribute("seats", "ten")
        .attribute("favourite_colour", "blue")
        .attribute("notes", "x".repeat(300))
        .attribute("a.b", 1)
        .attribute("mrr", json!({"amount": 5}));
    let e = client.contacts().create(&contact).await.expect_err("invalid attributes");
    assert_eq!(e.kind(), ErrorKind::InvalidAttributes);
    let problems = &e.attribute_errors().expect("details").problems;
    let names: Vec<&str> = problems.iter().map(AttributeProblem::name).collect();
    assert_eq!(names, vec!["a.b", "favourite_colour", "mrr", "notes", "plan", "seats"]);
    assert!(
        matches!(&problems[4], AttributeProblem::WrongType { expected, found: "integer", .. } if expected == "string")
    );
    assert_eq!(t.count_all("POST /contacts"), 0);

    // The schema is cached: a second bad write costs no request at all.
    let e = client
        .contacts()
        .create(&NewContact::user("attrs-2").attribute("seats", true))
        .await
        .expect_err("bad type");
    assert_eq!(e.kind(), ErrorKind::InvalidAttributes);
    assert_eq!(t.count_all("GET /data_attributes"), 1);
    assert_eq!(t.count_all("POST /contacts"), 0);

    // A string over 255 characters is caught for defined attributes too.
    let e = client
        .contacts()
        .create(&NewContact::user("attrs-3").attribute("plan", "p".repeat(256)))
        .await
        .expect_err("long");
    assert!(matches!(
        e.attribute_errors().expect("details").problems[0],
        AttributeProblem::TooLong { chars: 256, .. }
    ));

    // Creating the attribute through the client refreshes the schema, so the write now passes.
    let new_attr = NewDataAttribute {
        name: "favourite_colour".into(),
        model: AttributeModel::Contact,
        data_type: DataType::String,
        description: None,
        messenger_writable: None,
    };
    client.data_attributes().create(&new_attr).await.expect("attribute created");
    let ok = NewContact::user("attrs-4").attribute("favourite_colour", "blue").attribute("seats", 3);
    let created = client.contacts().create(&ok).await.expect("valid attributes");
    assert_eq!(created.custom_attributes["favourite_colour"], "blue");
    assert_eq!(t.count("POST /contacts", 200), 1);
}
