//! `remote_data` of a unified `get`: written from the provider's bytes when the mapping leaves
//! it alone, the usual shaping when the mapping writes one of its own.

use serde_json::json;

use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with};

/// A provider whose `GET /items/{id}` is the emulator's `op`, mapped by `mapping`.
async fn provider(name: &str, op: &str, mapping: &str) -> crate::custom::CustomProvider {
    let rest = "resources:\n  items:\n    get: { method: get, path: \"/items/{{id}}\" }\n";
    let route = format!("  - {{ method: GET, path: \"/items/{{id}}\", op: {op}, collection: items }}\n");
    let p = custom_provider(
        name,
        &integration_yaml(name, "https://api.items.example", rest),
        &emulator_yaml(2, &route),
    )
    .await;
    let unified =
        format!("organizations:\n  get:\n    resource: items.get\n    response_mapping: >-\n      {mapping}\n");
    std::fs::write(
        p.dir.path().join("integrations").join(name).join("user-directory.yaml"),
        unified,
    )
    .unwrap();
    p
}

/// The unified `get` of organization `id` through a gateway with one account on `p`;
/// `query` is appended to the query string.
async fn get_organization(p: &crate::custom::CustomProvider, id: &str, query: &str) -> crate::helpers::Reply {
    let app = spawn_with(p, true, |_| {}).await;
    let account = crate::custom::connect(&app, p, json!({})).await;
    app.get(&format!(
        "/unified/user-directory/organizations/{id}?integrated_account_id={account}{query}"
    ))
    .await
}

#[tokio::test]
async fn a_mapping_that_writes_remote_data_gets_the_provider_record_there_as_before() {
    let p = provider(
        "remote-own",
        "get",
        r#"{ "remote_data": "mine", "id": response.id, "name": response.name }"#,
    )
    .await;
    let r = get_organization(&p, "2", "").await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({ "remote_data": { "id": "2", "name": "item 2" }, "id": "2", "name": "item 2" })
    );
    let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["remote_data", "id", "name"]);
}

#[tokio::test]
async fn a_mapping_reading_the_whole_record_sees_all_of_it() {
    let p = provider(
        "remote-whole",
        "get",
        r#"{ "id": response.id, "keys": $keys(response), "copy": response }"#,
    )
    .await;
    let r = get_organization(&p, "1", "&truto_exclude_fields[]=copy.name").await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({ "id": "1", "keys": ["id", "name"], "copy": { "id": "1" }, "remote_data": { "id": "1", "name": "item 1" } })
    );
}

#[tokio::test]
async fn an_empty_answer_is_a_502_when_parsing_only_what_the_mapping_reads() {
    // The emulator's delete answers 204 with no body: a provider that answers a read with
    // nothing. That is a broken answer, not "no such record" (which would tell a syncing
    // client to delete it).
    let p = provider("remote-empty", "delete", r#"{ "id": response.id }"#).await;
    let r = get_organization(&p, "1", "").await;

    let msg = crate::helpers::assert_error(&r, 502);
    assert!(msg.contains("empty body where a record was expected"), "{msg}");
}
