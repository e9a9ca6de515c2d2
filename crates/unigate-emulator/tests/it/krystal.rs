use serde_json::{json, Value};

use crate::helpers::{client, spawn};

const TOKEN: &str = "kid_sandbox_6QpX2vN8rT4yB7mK3cJ9";
const ACME: &str = "org_Ty2vQn8RkP4wLm3x";

#[tokio::test]
async fn get_answers_the_organization_wrapped() {
    let krystal = spawn("krystal").await;
    let res = client()
        .get(format!("{}/api/v1/client/organizations/{ACME}", krystal.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["organization"]["name"], "Acme Hosting Ltd");
    assert_eq!(body["organization"]["updated_at"], 1714564800);
    assert_eq!(body["organization"]["users"][0]["roles"], json!(["admin"]));
}

#[tokio::test]
async fn a_wrong_token_is_refused_in_apias_error_shape() {
    let krystal = spawn("krystal").await;
    let res = client()
        .get(format!("{}/api/v1/client/organizations/{ACME}", krystal.base_url()))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_token");
}

#[tokio::test]
async fn patch_takes_properties_and_stamps_updated_at_in_unix_seconds() {
    let krystal = spawn("krystal").await;
    let before = chrono::Utc::now().timestamp();
    let res = client()
        .patch(format!("{}/api/v1/client/organizations/{ACME}", krystal.base_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"properties": {"name": "Acme Cloud Ltd", "two_factor_required": true, "identifier": "hijack"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let org = res.json::<Value>().await.unwrap()["organization"].clone();
    assert_eq!(org["name"], "Acme Cloud Ltd");
    assert_eq!(org["two_factor_required"], true);
    assert_eq!(org["time_zone"], "Europe/London");
    assert_eq!(org["identifier"], "acme-hosting", "read-only fields are ignored");
    assert!(org["updated_at"].as_i64().unwrap() >= before);
    assert_eq!(krystal.record("organizations", ACME).unwrap()["name"], "Acme Cloud Ltd");
}

#[tokio::test]
async fn an_empty_name_is_a_422_validation_error() {
    let krystal = spawn("krystal").await;
    let res = client()
        .patch(format!("{}/api/v1/client/organizations/{ACME}", krystal.base_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"properties": {"name": ""}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_error");
    assert_eq!(body["error"]["detail"]["errors"][0]["attribute"], "name");
    assert_eq!(body["error"]["detail"]["errors"][0]["type"], "blank");
    assert_eq!(
        krystal.record("organizations", ACME).unwrap()["name"],
        "Acme Hosting Ltd"
    );
}

#[tokio::test]
async fn a_body_without_properties_is_a_422_validation_error() {
    let krystal = spawn("krystal").await;
    let res = client()
        .patch(format!("{}/api/v1/client/organizations/{ACME}", krystal.base_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "Flat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["detail"]["errors"][0]["attribute"], "properties");
}

#[tokio::test]
async fn an_unknown_organization_is_organization_not_found() {
    let krystal = spawn("krystal").await;
    let res = client()
        .get(format!(
            "{}/api/v1/client/organizations/org_missing",
            krystal.base_url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": {"code": "organization_not_found",
                         "description": "No organization was found matching any of the criteria provided in the arguments",
                         "detail": {}}})
    );
}

#[tokio::test]
async fn an_organization_can_be_looked_up_by_identifier() {
    let krystal = spawn("krystal").await;
    let res = client()
        .get(format!("{}/api/v1/client/organizations/globex", krystal.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["organization"]["id"],
        "org_Bx7cJd2NfG5hKq9r"
    );
}

#[tokio::test]
async fn the_list_is_wrapped_with_apia_pagination() {
    let krystal = spawn("krystal").await;
    let body: Value = client()
        .get(format!("{}/api/v1/organizations?per_page=2", krystal.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["organizations"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["pagination"],
        json!({"current_page": 1, "total_pages": 2, "total": 3, "per_page": 2, "large_set": false})
    );
}
