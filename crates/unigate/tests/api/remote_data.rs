//! `remote_data` of a unified `get`: written from the provider's bytes when the mapping leaves
//! it alone, the usual shaping when the mapping writes one of its own.

use serde_json::json;

use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with};

async fn provider(name: &str, mapping: &str) -> crate::custom::CustomProvider {
    let rest = "resources:\n  items:\n    get: { method: get, path: \"/items/{{id}}\" }\n";
    let route = "  - { method: GET, path: \"/items/{id}\", op: get, collection: items }\n";
    let p = custom_provider(
        name,
        &integration_yaml(name, "https://api.items.example", rest),
        &emulator_yaml(2, route),
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

#[tokio::test]
async fn a_mapping_that_writes_remote_data_gets_the_provider_record_there_as_before() {
    let p = provider(
        "remote-own",
        r#"{ "remote_data": "mine", "id": response.id, "name": response.name }"#,
    )
    .await;
    let app = spawn_with(&p, true, |_| {}).await;
    let account = crate::custom::connect(&app, &p, json!({})).await;

    let r = app
        .get(&format!(
            "/unified/user-directory/organizations/2?integrated_account_id={account}"
        ))
        .await;

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
        r#"{ "id": response.id, "keys": $keys(response), "copy": response }"#,
    )
    .await;
    let app = spawn_with(&p, true, |_| {}).await;
    let account = crate::custom::connect(&app, &p, json!({})).await;

    let r = app
        .get(&format!(
            "/unified/user-directory/organizations/1?integrated_account_id={account}&truto_exclude_fields[]=copy.name"
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({ "id": "1", "keys": ["id", "name"], "copy": { "id": "1" }, "remote_data": { "id": "1", "name": "item 1" } })
    );
}
