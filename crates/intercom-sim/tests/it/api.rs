//! Every endpoint over plain HTTP against an in-process simulator, success and error paths.

use axum::http::Method;
use intercom_sim::{AppConfig, Indicator, SimConfig, WorkspaceConfig};
use serde_json::{Value, json};

use crate::support::{T0, TestSim};

fn is_hex24(s: &str) -> bool {
    s.len() == 24 && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[tokio::test]
async fn me_and_admins() {
    let t = TestSim::default().await;
    let me = t.get("/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["type"], "admin");
    assert_eq!(me.json["app"]["type"], "app");
    assert_eq!(me.json["app"]["id_code"], t.sim.default_app().app_id.as_str());
    assert!(me.header("x-ratelimit-limit").is_some());

    let admins = t.get("/admins").await;
    assert_eq!(admins.json["type"], "admin.list");
    let id = admins.json["admins"][0]["id"].as_str().expect("admin id").to_string();
    let one = t.get(&format!("/admins/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json["id"], id.as_str());
    t.get("/admins/1").await.assert_error(404, "admin_not_found");
}

#[tokio::test]
async fn auth_failures_are_401_without_rate_limit_headers() {
    let t = TestSim::default().await;
    for token in [None, Some("not-a-token")] {
        let r = t.send_as(token, Method::GET, "/me", None).await;
        r.assert_error(401, "unauthorized");
        assert_eq!(r.message(), "Access Token Invalid");
        assert!(r.header("x-ratelimit-limit").is_none());
        assert!(r.header("x-ratelimit-remaining").is_none());
    }
}

#[tokio::test]
async fn unknown_paths_versions_and_bad_json() {
    let t = TestSim::default().await;
    t.get("/nothing/here").await.assert_error(404, "not_found");
    t.send_as(Some(&t.token), Method::PATCH, "/contacts", None).await.assert_error(404, "not_found");

    let r = t.authed(Method::GET, "/me").header("Intercom-Version", "2.15").send().await.expect("ok");
    assert_eq!(r.status(), 200);
    let r = t.authed(Method::GET, "/me").send().await.expect("ok");
    assert_eq!(r.status(), 200, "no Intercom-Version header falls back to the app default");

    let bad = t.authed(Method::GET, "/me").header("Intercom-Version", "9.9").send().await.expect("ok");
    assert_eq!(bad.status(), 400);
    assert!(
        bad.headers().get("x-ratelimit-limit").is_some(),
        "authenticated errors carry rate-limit headers"
    );
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "intercom_version_invalid");
    let old = t.authed(Method::GET, "/contacts").header("Intercom-Version", "1.4").send().await.expect("ok");
    let body: Value = old.json().await.expect("json");
    assert_eq!(body["errors"][0]["message"], "Requested resource is not available in current API version");

    let r = t
        .authed(Method::POST, "/contacts")
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "parameter_invalid");
}

#[tokio::test]
async fn contact_lifecycle_and_validation() {
    let t = TestSim::default().await;
    let c = t
        .contact(json!({
            "email": "joe@example.com", "external_id": "u1", "name": "Joe",
            "custom_attributes": { "plan": "pro", "seats": 3 }
        }))
        .await;
    let id = c["id"].as_str().expect("id").to_string();
    assert!(is_hex24(&id));
    assert_eq!(c["type"], "contact");
    assert_eq!(c["role"], "user");
    assert_eq!(c["workspace_id"], t.sim.default_app().workspace_id.as_str());
    assert_eq!(c["email_domain"], "example.com");
    assert_eq!(c["custom_attributes"]["seats"], 3);
    assert_eq!(c["tags"]["url"], format!("/contacts/{id}/tags"));
    assert_eq!(c["tags"]["has_more"], false);
    assert_eq!(c["location"]["type"], "location");
    assert!(c["created_at"].as_i64().expect("unix seconds") > 1_600_000_000);

    let got = t.get(&format!("/contacts/{id}")).await;
    assert_eq!(got.json, c);

    let dup = t.post("/contacts", json!({ "email": "JOE@example.com" })).await;
    dup.assert_error(409, "conflict");
    assert_eq!(dup.message(), format!("A contact matching those details already exists with id={id}"));
    t.post("/contacts", json!({ "external_id": "u1", "email": "other@example.com" }))
        .await
        .assert_error(409, "conflict");

    for (attrs, what) in [
        (json!({ "nope": 1 }), "undefined"),
        (json!({ "seats": "three" }), "wrong type"),
        (json!({ "beta_tester": 1 }), "wrong type"),
        (json!({ "plan": "x".repeat(256) }), "too long"),
    ] {
        let r = t
            .post("/contacts", json!({ "email": format!("{}@x.io", what.len()), "custom_attributes": attrs }))
            .await;
        r.assert_error(400, "parameter_invalid");
    }
    t.post("/contacts", json!({ "name": "nobody" })).await.assert_error(400, "parameter_invalid");
    t.post("/contacts", json!({ "role": "admin" })).await.assert_error(400, "parameter_invalid");

    let upd = t
        .put(&format!("/contacts/{id}"), json!({ "name": "Joe B", "custom_attributes": { "plan": "free" } }))
        .await;
    assert_eq!(upd.status, 200);
    assert_eq!(upd.json["name"], "Joe B");
    assert_eq!(upd.json["custom_attributes"]["plan"], "free");
    assert_eq!(upd.json["custom_attributes"]["seats"], 3);
    let other = t.contact(json!({ "email": "ann@example.com" })).await;
    t.put(&format!("/contacts/{}", other["id"].as_str().expect("id")), json!({ "external_id": "u1" }))
        .await
        .assert_error(409, "conflict");
    t.put("/contacts/000000000000000000000000", json!({ "name": "x" })).await.assert_error(404, "not_found");

    let ext = t.get("/contacts/find_by_external_id/u1").await;
    assert_eq!(ext.json["id"], id.as_str());
    t.get("/contacts/find_by_external_id/missing").await.assert_error(404, "not_found");

    let del = t.delete(&format!("/contacts/{id}")).await;
    assert_eq!(del.json, json!({ "type": "contact", "id": id, "external_id": "u1", "deleted": true }));
    let gone = t.get(&format!("/contacts/{id}")).await;
    gone.assert_error(404, "not_found");
    assert_eq!(gone.message(), "User Not Found");
    t.delete(&format!("/contacts/{id}")).await.assert_error(404, "not_found");
}

#[tokio::test]
async fn contact_list_cursor_pagination() {
    let t = TestSim::start(SimConfig::default().seed_contacts(25)).await;
    let first = t.get("/contacts").await;
    assert_eq!(first.json["type"], "list");
    assert_eq!(first.json["total_count"], 25);
    assert_eq!(first.json["data"].as_array().expect("data").len(), 10);
    let pages = &first.json["pages"];
    assert_eq!(pages["type"], "pages");
    assert_eq!(pages["page"], 1);
    assert_eq!(pages["per_page"], 10);
    assert_eq!(pages["total_pages"], 3);
    assert_eq!(pages["next"]["page"], 2);
    let cursor = pages["next"]["starting_after"].as_str().expect("cursor");
    assert!(cursor.starts_with("Wz"));

    let mut seen: Vec<String> =
        first.json["data"].as_array().expect("d").iter().map(|c| c["id"].to_string()).collect();
    let mut cursor = cursor.to_string();
    let mut pages_seen = 1;
    loop {
        let escaped = cursor.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
        let body = t.get(&format!("/contacts?starting_after={escaped}")).await.json;
        pages_seen += 1;
        seen.extend(body["data"].as_array().expect("d").iter().map(|c| c["id"].to_string()));
        match body["pages"].get("next") {
            Some(next) => cursor = next["starting_after"].as_str().expect("cursor").to_string(),
            None => {
                assert_eq!(body["pages"]["page"], 3);
                break;
            }
        }
    }
    assert_eq!(pages_seen, 3);
    seen.dedup();
    assert_eq!(seen.len(), 25);

    let all = t.get("/contacts?per_page=150").await;
    assert_eq!(all.json["data"].as_array().expect("d").len(), 25);
    assert!(all.json["pages"].get("next").is_none());
    t.get("/contacts?per_page=151").await.assert_error(400, "parameter_invalid");
    t.get("/contacts?starting_after=garbage").await.assert_error(400, "parameter_invalid");
}

#[tokio::test]
async fn archive_unarchive_merge() {
    let t = TestSim::default().await;
    let c = t.contact(json!({ "email": "arch@example.com", "external_id": "a1" })).await;
    let id = c["id"].as_str().expect("id");
    let a = t.post(&format!("/contacts/{id}/archive"), json!({})).await;
    assert_eq!(a.json, json!({ "type": "contact", "id": id, "external_id": "a1", "archived": true }));
    t.get(&format!("/contacts/{id}")).await.assert_error(404, "not_found");
    assert_eq!(t.get("/contacts").await.json["total_count"], 0);
    let u = t.post(&format!("/contacts/{id}/unarchive"), json!({})).await;
    assert_eq!(u.json["archived"], false);
    assert_eq!(t.get(&format!("/contacts/{id}")).await.status, 200);
    t.post("/contacts/000000000000000000000000/archive", json!({})).await.assert_error(404, "not_found");

    let lead = t.contact(json!({ "role": "lead", "email": "arch@example.com", "phone": "+1 555" })).await;
    let lead_id = lead["id"].as_str().expect("id");
    assert_eq!(lead["role"], "lead");
    t.post("/contacts/merge", json!({ "from": id, "into": lead_id }))
        .await
        .assert_error(400, "parameter_invalid");
    t.post("/contacts/merge", json!({ "into": id })).await.assert_error(400, "parameter_not_found");
    t.post("/contacts/merge", json!({ "from": "000000000000000000000000", "into": id }))
        .await
        .assert_error(404, "not_found");
    let merged = t.post("/contacts/merge", json!({ "from": lead_id, "into": id })).await;
    assert_eq!(merged.status, 200);
    assert_eq!(merged.json["id"], id);
    assert_eq!(merged.json["phone"], "+1 555", "the lead fills what the user lacked");
    t.get(&format!("/contacts/{lead_id}")).await.assert_error(404, "not_found");

    // From 2.16 a merged-away contact answers 410 with a canonical Link to the survivor.
    let r = t
        .authed(Method::GET, &format!("/contacts/{lead_id}"))
        .header("Intercom-Version", "2.16")
        .send()
        .await
        .expect("ok");
    assert_eq!(r.status(), 410);
    assert_eq!(r.headers()["link"], format!("</contacts/{id}>; rel=\"canonical\""));
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "contact_merged");
}

#[tokio::test]
async fn tags_and_contact_tagging() {
    let t = TestSim::default().await;
    let tag = t.post("/tags", json!({ "name": "Manual tag" })).await;
    assert_eq!(tag.json["type"], "tag");
    let tag_id = tag.json["id"].as_str().expect("id").to_string();
    let again = t.post("/tags", json!({ "name": "manual TAG" })).await;
    assert_eq!(again.json["id"], tag_id.as_str(), "tag names are case-insensitive");
    let list = t.get("/tags").await;
    assert_eq!(list.json["type"], "list");
    assert!(list.json["data"].as_array().expect("d").iter().any(|x| x["id"] == tag_id.as_str()));
    assert_eq!(t.get(&format!("/tags/{tag_id}")).await.json["name"], "Manual tag");
    t.get("/tags/999999").await.assert_error(404, "not_found");
    let bad = t.post("/tags", json!({ "test": "invalid" })).await;
    bad.assert_error(400, "parameter_invalid");
    assert_eq!(bad.message(), "invalid tag parameters");

    let c = t.contact(json!({ "email": "tagged@example.com" })).await;
    let cid = c["id"].as_str().expect("id");
    let applied = t.post(&format!("/contacts/{cid}/tags"), json!({ "id": tag_id })).await;
    assert_eq!(applied.json["type"], "tag");
    assert!(applied.json["applied_at"].is_i64());
    assert_eq!(applied.json["applied_by"]["type"], "admin");
    let tags = t.get(&format!("/contacts/{cid}/tags")).await;
    assert_eq!(tags.json["data"][0]["id"], tag_id.as_str());
    let contact = t.get(&format!("/contacts/{cid}")).await;
    assert_eq!(contact.json["tags"]["total_count"], 1);
    assert_eq!(
        contact.json["tags"]["data"][0],
        json!({ "type": "tag", "id": tag_id, "url": format!("/tags/{tag_id}") })
    );

    let nf = t.post(&format!("/contacts/{cid}/tags"), json!({ "id": "424242" })).await;
    nf.assert_error(404, "not_found");
    assert_eq!(nf.message(), "Resource Not Found");
    let nf = t.post("/contacts/000000000000000000000000/tags", json!({ "id": tag_id })).await;
    assert_eq!(nf.message(), "User Not Found");

    let removed = t.delete(&format!("/contacts/{cid}/tags/{tag_id}")).await;
    assert_eq!(removed.json["id"], tag_id.as_str());
    assert_eq!(t.get(&format!("/contacts/{cid}")).await.json["tags"]["total_count"], 0);
    t.delete(&format!("/contacts/{cid}/tags/424242")).await.assert_error(404, "not_found");
}

#[tokio::test]
async fn companies_upsert_retrieve_attach_list() {
    let t = TestSim::default().await;
    let created = t.post("/companies", json!({ "company_id": "c-1", "name": "Blue Sun", "plan": "pro", "custom_attributes": { "tier": "gold" } })).await;
    assert_eq!(created.status, 200, "{}", created.json);
    let id = created.json["id"].as_str().expect("id").to_string();
    assert!(is_hex24(&id));
    assert_eq!(created.json["type"], "company");
    assert_eq!(created.json["app_id"], t.sim.default_app().workspace_id.as_str());
    assert_eq!(created.json["tags"]["type"], "tag.list");
    assert_eq!(created.json["plan"]["name"], "pro");
    let updated = t.post("/companies", json!({ "company_id": "c-1", "name": "Blue Sun Corp" })).await;
    assert_eq!(updated.json["id"], id.as_str(), "upsert by company_id keeps the company");
    assert_eq!(updated.json["name"], "Blue Sun Corp");
    let bad = t.post("/companies", json!({ "test": "invalid" })).await;
    bad.assert_error(400, "bad_request");
    assert_eq!(bad.message(), "bad 'test' parameter");
    t.post("/companies", json!({ "company_id": "c-2", "custom_attributes": { "nope": 1 } }))
        .await
        .assert_error(400, "parameter_invalid");

    assert_eq!(t.get(&format!("/companies/{id}")).await.json["company_id"], "c-1");
    let nf = t.get("/companies/000000000000000000000000").await;
    nf.assert_error(404, "company_not_found");
    assert_eq!(nf.message(), "Company Not Found");
    let by_cid = t.get("/companies?company_id=c-1").await;
    assert_eq!(by_cid.json["data"][0]["id"], id.as_str());
    t.get("/companies?company_id=zzz").await.assert_error(404, "company_not_found");
    let put = t.put(&format!("/companies/{id}"), json!({ "industry": "Shipping" })).await;
    assert_eq!(put.json["industry"], "Shipping");

    assert_eq!(t.get("/companies").await.json["total_count"], 0, "companies without users are not listed");
    let c = t.contact(json!({ "email": "member@example.com" })).await;
    let cid = c["id"].as_str().expect("id");
    let attached = t.post(&format!("/contacts/{cid}/companies"), json!({ "id": id })).await;
    assert_eq!(attached.json["user_count"], 1);
    t.post(&format!("/contacts/{cid}/companies"), json!({ "id": "000000000000000000000000" }))
        .await
        .assert_error(404, "company_not_found");
    t.post(&format!("/contacts/{cid}/companies"), json!({})).await.assert_error(400, "parameter_not_found");
    let listed = t.get("/companies").await;
    assert_eq!(listed.json["total_count"], 1);
    assert_eq!(listed.json["pages"]["type"], "pages");
    let posted = t.post("/companies/list", json!({})).await;
    assert_eq!(posted.json["data"][0]["id"], id.as_str());
    let of_contact = t.get(&format!("/contacts/{cid}/companies")).await;
    assert_eq!(of_contact.json["data"][0]["id"], id.as_str());
    assert_eq!(t.get(&format!("/contacts/{cid}")).await.json["companies"]["data"][0]["id"], id.as_str());
    let members = t.get(&format!("/companies/{id}/contacts")).await;
    assert_eq!(members.json["data"][0]["id"], cid);
    let detached = t.delete(&format!("/contacts/{cid}/companies/{id}")).await;
    assert_eq!(detached.json["user_count"], 0);

    let del = t.delete(&format!("/companies/{id}")).await;
    assert_eq!(del.json, json!({ "id": id, "object": "company", "deleted": true }));
    t.get(&format!("/companies/{id}")).await.assert_error(404, "company_not_found");
}

#[tokio::test]
async fn company_scroll_one_per_app_and_expiry() {
    let clock = intercom_sim::ManualClock::at_secs(T0);
    let t = TestSim::manual(&clock, SimConfig::default()).await;
    for i in 0..60 {
        assert_eq!(t.post("/companies", json!({ "company_id": format!("s{i}") })).await.status, 200);
    }
    let first = t.get("/companies/scroll").await;
    assert_eq!(first.json["data"].as_array().expect("d").len(), 50);
    assert!(first.json["pages"].is_null());
    assert!(first.json["total_count"].is_null());
    let param = first.json["scroll_param"].as_str().expect("param").to_string();
    let second_scroll = t.get("/companies/scroll").await;
    second_scroll.assert_error(400, "scroll_exists");
    let page2 = t.get(&format!("/companies/scroll?scroll_param={param}")).await;
    assert_eq!(page2.json["data"].as_array().expect("d").len(), 10);
    assert_eq!(page2.json["scroll_param"], param.as_str(), "the same param on every page");
    let end = t.get(&format!("/companies/scroll?scroll_param={param}")).await;
    assert_eq!(end.json["data"].as_array().expect("d").len(), 0);
    t.get(&format!("/companies/scroll?scroll_param={param}")).await.assert_error(404, "not_found");

    let again = t.get("/companies/scroll").await;
    let param = again.json["scroll_param"].as_str().expect("param").to_string();
    clock.advance(std::time::Duration::from_secs(59));
    assert_eq!(
        t.get(&format!("/companies/scroll?scroll_param={param}")).await.status,
        200,
        "used within a minute"
    );
    clock.advance(std::time::Duration::from_secs(60));
    let expired = t.get(&format!("/companies/scroll?scroll_param={param}")).await;
    expired.assert_error(404, "not_found");
    assert_eq!(expired.message(), "scroll parameter not found");
    assert_eq!(t.get("/companies/scroll").await.status, 200, "an expired scroll frees the slot");
}

#[tokio::test]
async fn data_attributes_list_create_and_limit() {
    let t = TestSim::default().await;
    let list = t.get("/data_attributes?model=contact").await;
    assert_eq!(list.json["type"], "list");
    let data = list.json["data"].as_array().expect("d");
    assert!(data.iter().all(|a| a["model"] == "contact"));
    assert!(data.iter().any(|a| a["name"] == "plan" && a["custom"] == true));
    t.get("/data_attributes?model=ticket").await.assert_error(400, "parameter_invalid");

    let created = t
        .post(
            "/data_attributes",
            json!({ "name": "Mithril Shirt", "model": "company", "data_type": "string" }),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.json);
    assert_eq!(created.json["full_name"], "custom_attributes.Mithril Shirt");
    assert_eq!(created.json["custom"], true);
    let dup = t
        .post(
            "/data_attributes",
            json!({ "name": "Mithril Shirt", "model": "contact", "data_type": "integer" }),
        )
        .await;
    dup.assert_error(400, "parameter_invalid");
    assert_eq!(
        dup.message(),
        "You already have 'Mithril Shirt' in your company data. To save this as new people data, use a different name."
    );
    let bad_name = t
        .post(
            "/data_attributes",
            json!({ "name": "!nv@l!d n@me", "model": "company", "data_type": "string" }),
        )
        .await;
    assert_eq!(
        bad_name.message(),
        "Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens"
    );
    let bad_type = t
        .post(
            "/data_attributes",
            json!({ "name": "Second Ring", "model": "company", "data_type": "mithril" }),
        )
        .await;
    assert_eq!(bad_type.message(), "Data Type isn't an option");
    let bad_model = t
        .post("/data_attributes", json!({ "name": "Third", "model": "ticket", "data_type": "string" }))
        .await;
    assert_eq!(bad_model.message(), "The Data Attribute model field must be either contact or company");

    let attr_id = created.json["id"].as_i64().expect("id");
    let archived = t.put(&format!("/data_attributes/{attr_id}"), json!({ "archived": true })).await;
    assert_eq!(archived.json["archived"], true);
    t.put("/data_attributes/999999", json!({ "archived": true })).await.assert_error(404, "field_not_found");

    let live = t.get("/data_attributes").await.json["data"]
        .as_array()
        .expect("d")
        .iter()
        .filter(|a| a["custom"] == true)
        .count();
    for i in live..250 {
        let r = t
            .post(
                "/data_attributes",
                json!({ "name": format!("attr {i}"), "model": "contact", "data_type": "string" }),
            )
            .await;
        assert_eq!(r.status, 200, "attribute {i}: {}", r.json);
    }
    let over = t
        .post(
            "/data_attributes",
            json!({ "name": "one too many", "model": "contact", "data_type": "string" }),
        )
        .await;
    over.assert_error(400, "custom_data_limit_reached");
    assert!(over.message().contains("250"));
}

#[tokio::test]
async fn data_events() {
    let t = TestSim::default().await;
    t.contact(json!({ "email": "ev@example.com", "external_id": "ev1" })).await;
    let r = t.post("/events", json!({ "event_name": "ordered", "created_at": 1_700_000_000, "user_id": "ev1", "metadata": { "n": 1 } })).await;
    assert_eq!(r.status, 202);
    assert!(r.json.is_null(), "202 has an empty body");
    let by_email = t
        .post(
            "/events",
            json!({ "event_name": "ordered", "created_at": 1_700_000_001, "email": "ev@example.com" }),
        )
        .await;
    assert_eq!(by_email.status, 202);
    t.post("/events", json!({ "event_name": "x", "created_at": 1, "user_id": "nobody" }))
        .await
        .assert_error(404, "not_found");
    t.post("/events", json!({ "created_at": 1, "user_id": "ev1" }))
        .await
        .assert_error(400, "parameter_not_found");
}

#[tokio::test]
async fn contact_search_uses_the_query_language() {
    let t = TestSim::default().await;
    t.contact(json!({ "email": "find.me@example.com", "custom_attributes": { "seats": 10 } })).await;
    t.contact(json!({ "email": "other@example.com", "custom_attributes": { "seats": 2 } })).await;
    let r = t
        .post(
            "/contacts/search",
            json!({ "query": { "field": "email", "operator": "=", "value": "find.me@example.com" } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["total_count"], 1);
    assert_eq!(r.json["data"][0]["email"], "find.me@example.com");
    let r = t
        .post(
            "/contacts/search",
            json!({ "query": { "field": "custom_attributes.seats", "operator": ">", "value": 1 }, "pagination": { "per_page": 1 } }),
        )
        .await;
    assert_eq!(r.json["total_count"], 2);
    let cursor = r.json["pages"]["next"]["starting_after"].as_str().expect("cursor").to_string();
    let r2 = t
        .post(
            "/contacts/search",
            json!({ "query": { "field": "custom_attributes.seats", "operator": ">", "value": 1 }, "pagination": { "per_page": 1, "starting_after": cursor } }),
        )
        .await;
    assert_eq!(r2.json["data"].as_array().expect("d").len(), 1);
    assert!(r2.json["pages"].get("next").is_none());
    assert_ne!(r2.json["data"][0]["id"], r.json["data"][0]["id"]);
    let bad = t
        .post("/contacts/search", json!({ "query": { "field": "email", "operator": ">", "value": "x" } }))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json["type"], "error.list");
}

#[tokio::test]
async fn conversations_list_retrieve_reply_search() {
    let t = TestSim::default().await;
    let c = t.contact(json!({ "email": "talker@example.com", "name": "Talker" })).await;
    let cid = c["id"].as_str().expect("id");
    let conv = t.sim.create_conversation(cid, "I need support").expect("conversation");
    let conv_id = conv["id"].as_str().expect("id").to_string();

    let list = t.get("/conversations").await;
    assert_eq!(list.json["type"], "conversation.list");
    assert_eq!(list.json["total_count"], 1);
    assert_eq!(list.json["conversations"][0]["contacts"]["contacts"][0]["id"], cid);
    let one = t.get(&format!("/conversations/{conv_id}")).await;
    assert_eq!(one.json["state"], "open");
    assert_eq!(one.json["conversation_parts"]["type"], "conversation_part.list");
    t.get("/conversations/999999").await.assert_error(404, "not_found");

    let admin_id = t.get("/admins").await.json["admins"][0]["id"].as_str().expect("id").to_string();
    let reply = t
        .post(
            &format!("/conversations/{conv_id}/reply"),
            json!({ "type": "admin", "message_type": "comment", "admin_id": admin_id, "body": "On it" }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["conversation_parts"]["conversation_parts"][0]["author"]["type"], "admin");
    let closed = t
        .post(
            &format!("/conversations/{conv_id}/parts"),
            json!({ "message_type": "close", "type": "admin", "admin_id": admin_id }),
        )
        .await;
    assert_eq!(closed.json["state"], "closed");
    let user_reply = t
        .post(
            &format!("/conversations/{conv_id}/reply"),
            json!({ "type": "user", "message_type": "comment", "intercom_user_id": cid, "body": "Thanks" }),
        )
        .await;
    assert_eq!(user_reply.json["state"], "open", "a contact reply reopens");
    assert_eq!(user_reply.json["conversation_parts"]["conversation_parts"][0]["part_type"], "open");
    t.post(
        "/conversations/999999/reply",
        json!({ "type": "admin", "message_type": "comment", "admin_id": admin_id, "body": "x" }),
    )
    .await
    .assert_error(404, "not_found");
    t.post(
        &format!("/conversations/{conv_id}/reply"),
        json!({ "type": "bot", "message_type": "comment", "body": "x" }),
    )
    .await
    .assert_error(400, "parameter_invalid");
    t.post(
        &format!("/conversations/{conv_id}/reply"),
        json!({ "type": "admin", "message_type": "comment", "admin_id": "1", "body": "x" }),
    )
    .await
    .assert_error(404, "admin_not_found");
    t.post(&format!("/conversations/{conv_id}/reply"), json!({ "type": "user", "message_type": "comment", "intercom_user_id": "000000000000000000000000", "body": "x" }))
        .await
        .assert_error(404, "not_found");

    let assigned = t
        .post(&format!("/conversations/{conv_id}/parts"), json!({ "message_type": "assignment", "type": "admin", "admin_id": admin_id, "assignee_id": admin_id }))
        .await;
    assert_eq!(assigned.json["admin_assignee_id"].to_string(), admin_id);
    let open = t
        .post(
            "/conversations/search",
            json!({ "query": { "field": "state", "operator": "=", "value": "open" } }),
        )
        .await;
    assert_eq!(open.status, 200, "{}", open.json);
    assert_eq!(open.json["type"], "conversation.list");
    assert_eq!(open.json["total_count"], 1);
    let by_admin = t
        .post(
            "/conversations/search",
            json!({ "query": { "operator": "AND", "value": [
                { "field": "admin_assignee_id", "operator": "=", "value": admin_id.parse::<i64>().expect("numeric") },
                { "field": "state", "operator": "=", "value": "closed" }
            ] } }),
        )
        .await;
    assert_eq!(by_admin.json["total_count"], 0);

    let created =
        t.post("/conversations", json!({ "from": { "type": "user", "id": cid }, "body": "Hello" })).await;
    assert_eq!(created.json["type"], "user_message");
    assert_eq!(t.get("/conversations").await.json["total_count"], 2);
}

#[tokio::test]
async fn statuspage_and_stats() {
    let t = TestSim::default().await;
    let status = async || t.control(Method::GET, "/_sim/statuspage/api/v2/status.json", None).await.json;
    let s = status().await;
    assert_eq!(s["status"]["indicator"], "none");
    assert_eq!(s["status"]["description"], "All Systems Operational");
    assert!(s["page"]["updated_at"].is_string());
    t.sim.set_status_indicator(Indicator::Major);
    assert_eq!(status().await["status"]["indicator"], "major");
    let r = t.control(Method::POST, "/_sim/statuspage", Some(json!({ "indicator": "critical" }))).await;
    assert_eq!(r.status, 200);
    assert_eq!(status().await["status"]["indicator"], "critical");
    let r = t.control(Method::POST, "/_sim/statuspage", Some(json!({ "indicator": "meh" }))).await;
    assert_eq!(r.status, 400);

    let c = t.contact(json!({ "email": "stat@example.com" })).await;
    let id = c["id"].as_str().expect("id");
    t.get(&format!("/contacts/{id}")).await;
    t.get(&format!("/contacts/{id}")).await;
    t.get("/contacts/000000000000000000000000").await;
    t.send_as(None, Method::GET, "/me", None).await;
    let stats = t.control(Method::GET, "/_sim/stats", None).await.json;
    assert_eq!(stats["requests"]["GET /contacts/{id}"]["200"], 2);
    assert_eq!(stats["requests"]["GET /contacts/{id}"]["404"], 1);
    assert_eq!(stats["requests"]["POST /contacts"]["200"], 1);
    assert_eq!(stats["requests"]["GET /me"]["401"], 1);
    assert_eq!(t.sim.stats().count("GET /contacts/{id}", 200), 2);
}

#[tokio::test]
async fn apps_and_workspaces_isolate_data() {
    let config = SimConfig {
        workspaces: vec![
            WorkspaceConfig {
                id: Some("wsprod01".into()),
                apps: vec![
                    AppConfig {
                        id_code: Some("prodapp1".into()),
                        token: Some("tok-prod-1".into()),
                        ..AppConfig::default()
                    },
                    AppConfig {
                        id_code: Some("prodapp2".into()),
                        token: Some("tok-prod-2".into()),
                        ..AppConfig::default()
                    },
                ],
                ..WorkspaceConfig::default()
            },
            WorkspaceConfig {
                id: Some("wsstag01".into()),
                apps: vec![AppConfig {
                    id_code: Some("stagapp1".into()),
                    token: Some("tok-stag-1".into()),
                    ..AppConfig::default()
                }],
                ..WorkspaceConfig::default()
            },
        ],
        ..SimConfig::default()
    };
    let t = TestSim::start(config).await;
    assert_eq!(t.sim.apps().len(), 3);
    let created = t
        .send_as(Some("tok-prod-1"), Method::POST, "/contacts", Some(json!({ "email": "p@example.com" })))
        .await;
    let id = created.json["id"].as_str().expect("id");
    assert_eq!(created.json["workspace_id"], "wsprod01");
    let same_ws = t.send_as(Some("tok-prod-2"), Method::GET, &format!("/contacts/{id}"), None).await;
    assert_eq!(same_ws.status, 200, "apps of one workspace share its data");
    let other_ws = t.send_as(Some("tok-stag-1"), Method::GET, &format!("/contacts/{id}"), None).await;
    other_ws.assert_error(404, "not_found");
    let me = t.send_as(Some("tok-stag-1"), Method::GET, "/me", None).await;
    assert_eq!(me.json["app"]["id_code"], "stagapp1");
}

#[tokio::test]
async fn seeding_is_deterministic() {
    let a = TestSim::start(SimConfig::default().seed_contacts(30)).await;
    let b = TestSim::start(SimConfig::default().seed_contacts(30)).await;
    let la = a.get("/contacts?per_page=30").await.json;
    let lb = b.get("/contacts?per_page=30").await.json;
    let pick = |v: &Value| -> Vec<(Value, Value, Value)> {
        v["data"]
            .as_array()
            .expect("d")
            .iter()
            .map(|c| (c["id"].clone(), c["email"].clone(), c["custom_attributes"].clone()))
            .collect()
    };
    assert_eq!(pick(&la), pick(&lb));
    assert_eq!(la["total_count"], 30);
    assert!(la["data"][0]["name"].as_str().is_some_and(|n| n.contains(' ')));
}

#[tokio::test]
async fn search_is_eventually_consistent_when_configured() {
    let clock = intercom_sim::ManualClock::at_secs(T0);
    let t =
        TestSim::manual(&clock, SimConfig::default().search_delay(std::time::Duration::from_secs(120))).await;
    t.contact(json!({ "email": "late@example.com" })).await;
    let query = json!({ "query": { "field": "email", "operator": "=", "value": "late@example.com" } });
    assert_eq!(t.post("/contacts/search", query.clone()).await.json["total_count"], 0, "not indexed yet");
    assert_eq!(t.get("/contacts").await.json["total_count"], 1, "lists see it at once");
    clock.advance(std::time::Duration::from_secs(120));
    assert_eq!(t.post("/contacts/search", query).await.json["total_count"], 1);
}

#[tokio::test]
async fn toml_config_describes_apps_and_workspaces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sim.toml");
    std::fs::write(
        &path,
        r#"
        seed = 3
        [[workspaces]]
        id = "wstoml01"
        rate_limit_per_minute = 600
        seed_contacts = 5
        [[workspaces.apps]]
        id_code = "tomlapp1"
        token = "tok-toml"
        client_secret = "c0ffee"
        rate_limit_per_minute = 60
        "#,
    )
    .expect("write config");
    let config = SimConfig::from_toml_file(&path).expect("valid config");
    let t = TestSim::start(config).await;
    let app = t.sim.default_app();
    assert_eq!(
        (app.app_id.as_str(), app.token.as_str(), app.client_secret.as_str()),
        ("tomlapp1", "tok-toml", "c0ffee")
    );
    let r = t.get("/contacts").await;
    assert_eq!(r.json["total_count"], 5);
    assert_eq!(r.header("x-ratelimit-limit"), Some("10"), "60/min is 10 per window");
    let missing = SimConfig::from_toml_file(&dir.path().join("absent.toml")).unwrap_err();
    assert!(missing.to_string().contains("absent.toml"), "{missing}");
    std::fs::write(&path, "workspaces = 3").expect("write");
    assert!(SimConfig::from_toml_file(&path).is_err());
}

#[tokio::test]
async fn control_routes_for_clock_conversations_and_apps() {
    let clock = intercom_sim::ManualClock::at_secs(T0);
    let t = TestSim::manual(&clock, SimConfig::default()).await;
    let r =
        t.control(Method::POST, "/_sim/clock/advance", Some(json!({ "seconds": 5, "millis": 500 }))).await;
    assert_eq!(r.json["now_ms"], T0 * 1000 + 5_500);

    let c = t.contact(json!({ "email": "ctl@example.com" })).await;
    let conversation = json!({ "contact_id": c["id"], "body": "hello" });
    let r = t.control(Method::POST, "/_sim/conversations", Some(conversation)).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json["type"], "conversation");
    let nobody = json!({ "contact_id": "000000000000000000000000", "body": "x" });
    let r = t.control(Method::POST, "/_sim/conversations", Some(nobody)).await;
    assert_eq!(r.status, 400);

    let apps = t.control(Method::GET, "/_sim/apps", None).await.json;
    assert_eq!(apps["apps"][0]["app_id"], t.sim.default_app().app_id.as_str());
    assert_eq!(t.control(Method::GET, "/_sim/nope", None).await.status, 404);

    let system = TestSim::default().await;
    let r = system.control(Method::POST, "/_sim/clock/advance", Some(json!({ "seconds": 1 }))).await;
    assert_eq!(r.status, 409, "the system clock cannot be moved");
}
