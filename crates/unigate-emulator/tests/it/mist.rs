use serde_json::{json, Value};

use crate::helpers::{client, spawn};

const TOKEN: &str = "Token mist-sandbox-1c8d1b0f3e6a4c2d9b7e5f4a3c2b1a09";
const ACME: &str = "6374a757-8d3f-4a8b-9a32-0f5e5e7a1c2b";

#[tokio::test]
async fn only_the_token_scheme_is_accepted() {
    let mist = spawn("juniper-mist").await;
    let url = format!("{}/api/v1/orgs/{ACME}", mist.base_url());
    let missing = client().get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"detail": "Authentication credentials were not provided."})
    );
    let bearer = client()
        .get(&url)
        .bearer_auth("mist-sandbox-1c8d1b0f3e6a4c2d9b7e5f4a3c2b1a09")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 401);
    assert_eq!(
        bearer.json::<Value>().await.unwrap(),
        json!({"detail": "Invalid token."})
    );
    let ok = client().get(&url).header("Authorization", TOKEN).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let org: Value = ok.json().await.unwrap();
    assert_eq!(org["name"], "Acme Networks");
    assert_eq!(org["created_time"], 1589474310);
}

#[tokio::test]
async fn put_updates_only_the_given_fields_and_stamps_modified_time_in_epoch_seconds() {
    let mist = spawn("juniper-mist").await;
    let before = chrono::Utc::now().timestamp();
    let res = client()
        .put(format!("{}/api/v1/orgs/{ACME}", mist.base_url()))
        .header("Authorization", TOKEN)
        .json(&json!({"name": "Acme Networks EMEA", "created_time": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let org: Value = res.json().await.unwrap();
    assert_eq!(org["name"], "Acme Networks EMEA");
    assert_eq!(org["session_expiry"], 1440, "fields not sent are kept");
    assert_eq!(org["created_time"], 1589474310, "read-only fields are ignored");
    let modified = org["modified_time"].as_i64().unwrap();
    assert!(modified >= before && modified <= before + 5, "{modified}");
}

#[tokio::test]
async fn an_out_of_range_value_is_a_400_with_a_detail() {
    let mist = spawn("juniper-mist").await;
    let res = client()
        .put(format!("{}/api/v1/orgs/{ACME}", mist.base_url()))
        .header("Authorization", TOKEN)
        .json(&json!({"session_expiry": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("session_expiry"), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn post_creates_an_org_that_self_then_lists() {
    let mist = spawn("juniper-mist").await;
    let res = client()
        .post(format!("{}/api/v1/orgs", mist.base_url()))
        .header("Authorization", TOKEN)
        .json(&json!({"name": "Hooli Branches"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let org: Value = res.json().await.unwrap();
    let id = org["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(org["allow_mist"], true);
    assert_eq!(org["session_expiry"], 1440);
    assert!(org["created_time"].is_i64());

    let me: Value = client()
        .get(format!("{}/api/v1/self", mist.base_url()))
        .header("Authorization", TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let privileges = me["privileges"].as_array().unwrap();
    assert_eq!(privileges.len(), 4);
    assert_eq!(
        privileges[0],
        json!({"scope": "org", "org_id": ACME, "name": "Acme Networks", "role": "admin", "orggroup_ids": [], "msp_id": null})
    );
    assert_eq!(privileges[3]["org_id"], id);
    assert_eq!(me["email"], "netops@acme.example");
}

#[tokio::test]
async fn creating_without_a_name_is_refused() {
    let mist = spawn("juniper-mist").await;
    let res = client()
        .post(format!("{}/api/v1/orgs", mist.base_url()))
        .header("Authorization", TOKEN)
        .json(&json!({"allow_mist": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(mist.records("orgs").len(), 3);
}

#[tokio::test]
async fn a_deleted_org_is_then_not_found() {
    let mist = spawn("juniper-mist").await;
    let url = format!("{}/api/v1/orgs/{ACME}", mist.base_url());
    let res = client()
        .delete(&url)
        .header("Authorization", TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client().get(&url).header("Authorization", TOKEN).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "Not found."}));
}
