use serde_json::{json, Value};

use crate::helpers::{client, spawn};

const TOKEN: &str = "mbt_sandbox.eyJ0ZW5hbnQiOiJzYW5kYm94In0.c2lnbmF0dXJl";
const ACME: &str = "695eb7fb4a256d5f26300000";

fn put(base: &str, id: &str, body: Value) -> reqwest::RequestBuilder {
    client()
        .put(format!("{base}/api/v1/organizations/{id}"))
        .bearer_auth(TOKEN)
        .json(&body)
}

#[tokio::test]
async fn a_missing_token_is_a_401_problem() {
    let mb = spawn("mindbridge").await;
    let res = client()
        .get(format!("{}/api/v1/organizations/{ACME}", mb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["title"], "Unauthorized");
}

#[tokio::test]
async fn put_with_the_current_version_replaces_the_organization_and_bumps_the_version() {
    let mb = spawn("mindbridge").await;
    let current = mb.record("organizations", ACME).unwrap();
    let mut body = current.clone();
    body["name"] = json!("Acme Manufacturing Group");
    body.as_object_mut().unwrap().remove("externalClientCode");
    body["creationDate"] = json!("1999-01-01T00:00:00Z");
    let res = put(&mb.base_url(), ACME, body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let org: Value = res.json().await.unwrap();
    assert_eq!(org["version"], 4);
    assert_eq!(org["name"], "Acme Manufacturing Group");
    assert!(
        org.get("externalClientCode").is_none(),
        "PUT replaces: fields left out are gone"
    );
    assert_eq!(org["creationDate"], "2023-11-07T05:31:56Z", "read-only fields are kept");
    assert_eq!(org["createdUserInfo"], current["createdUserInfo"]);
    assert_eq!(org["lastModifiedUserInfo"]["userName"], "sandbox-api-token");
    assert_ne!(org["lastModifiedDate"], current["lastModifiedDate"]);
    assert!(chrono::DateTime::parse_from_rfc3339(org["lastModifiedDate"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn a_stale_version_is_a_409_and_leaves_the_record_unchanged() {
    let mb = spawn("mindbridge").await;
    let before = mb.record("organizations", ACME).unwrap();
    let res = put(&mb.base_url(), ACME, json!({"version": 2, "name": "Lost update"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 409);
    assert_eq!(body["problems"][0]["identifier"], "version");
    assert_eq!(mb.record("organizations", ACME).unwrap(), before);
}

#[tokio::test]
async fn invalid_names_are_400_problems_naming_the_field() {
    let mb = spawn("mindbridge").await;
    for name in ["", "   ", &"x".repeat(81)] {
        let res = put(&mb.base_url(), ACME, json!({"version": 3, "name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{name:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["problems"][0]["identifier"], "name", "{body}");
        assert_eq!(body["status"], 400);
    }
    let missing = put(&mb.base_url(), ACME, json!({"name": "No version"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(
        body["problems"][0],
        json!({"problemType": "MISSING_REQUIRED_FIELD", "identifier": "version", "reason": "version is required"})
    );
    let long_code = put(
        &mb.base_url(),
        ACME,
        json!({"version": 3, "name": "ok", "externalClientCode": "c".repeat(81)}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(long_code.status(), 400);
    assert_eq!(mb.record("organizations", ACME).unwrap()["version"], 3);
}

#[tokio::test]
async fn an_unknown_property_is_rejected_with_400() {
    let mb = spawn("mindbridge").await;
    let res = put(
        &mb.base_url(),
        ACME,
        json!({"version": 3, "name": "Acme", "industry": "Steel"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["problems"][0]["problemType"], "UNKNOWN_PROPERTY");
    assert_eq!(body["problems"][0]["identifier"], "industry");
}

#[tokio::test]
async fn query_pages_are_spring_pages_numbered_from_zero() {
    let mb = spawn("mindbridge").await;
    for i in 0..41 {
        mb.insert_record(
            "organizations",
            json!({"id": format!("6600000000000000000000{i:02}"), "version": 0, "name": format!("Client {i}")}),
        );
    }
    let mut seen = 0;
    for page in 0..3 {
        let res = client()
            .post(format!(
                "{}/api/v1/organizations/query?page={page}&size=20",
                mb.base_url()
            ))
            .bearer_auth(TOKEN)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        let content = body["content"].as_array().unwrap();
        assert_eq!(body["totalElements"], 45);
        assert_eq!(body["totalPages"], 3);
        assert_eq!(body["number"], page);
        assert_eq!(body["size"], 20);
        assert_eq!(body["first"], page == 0);
        assert_eq!(body["last"], page == 2);
        assert_eq!(body["numberOfElements"], content.len());
        assert_eq!(body["empty"], false);
        seen += content.len();
    }
    assert_eq!(seen, 45);
    let beyond: Value = client()
        .post(format!("{}/api/v1/organizations/query?page=9&size=20", mb.base_url()))
        .bearer_auth(TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(beyond["content"], json!([]));
    assert_eq!(beyond["empty"], true);
}

#[tokio::test]
async fn delete_answers_204_and_the_organization_is_gone() {
    let mb = spawn("mindbridge").await;
    let res = client()
        .delete(format!("{}/api/v1/organizations/{ACME}", mb.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.bytes().await.unwrap().is_empty());
    let res = client()
        .get(format!("{}/api/v1/organizations/{ACME}", mb.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["problems"][0]["identifier"], ACME);
}
