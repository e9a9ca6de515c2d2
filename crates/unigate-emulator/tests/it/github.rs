use serde_json::{json, Value};

use crate::helpers::{client, spawn};

const TOKEN: &str = "ghp_SandboxToken0000000000000000000001";

#[tokio::test]
async fn a_request_without_a_token_gets_githubs_401_body() {
    let gh = spawn("github").await;
    let missing = client()
        .get(format!("{}/orgs/github", gh.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"message": "Requires authentication", "documentation_url": "https://docs.github.com/rest"})
    );
    let wrong = client()
        .get(format!("{}/orgs/github", gh.base_url()))
        .bearer_auth("ghp_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["message"], "Bad credentials");
}

#[tokio::test]
async fn both_bearer_and_token_schemes_are_accepted() {
    let gh = spawn("github").await;
    for scheme in ["Bearer", "token"] {
        let res = client()
            .get(format!("{}/orgs/github", gh.base_url()))
            .header("Authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn an_unsupported_api_version_is_refused_with_400() {
    let gh = spawn("github").await;
    let get = |version: &'static str| {
        client()
            .get(format!("{}/orgs/github", gh.base_url()))
            .bearer_auth(TOKEN)
            .header("X-GitHub-Api-Version", version)
            .send()
    };
    assert_eq!(get("2022-11-28").await.unwrap().status(), 200);
    let refused = get("2020-01-01").await.unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("2020-01-01"), "{body}");
}

#[tokio::test]
async fn an_org_is_addressed_by_its_login_case_insensitively() {
    let gh = spawn("github").await;
    let res = client()
        .get(format!("{}/orgs/Octo-Org", gh.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let org: Value = res.json().await.unwrap();
    assert_eq!(org["login"], "octo-org");
    assert_eq!(org["id"], 6811672);
    assert_eq!(org["plan"]["name"], "team");
    assert_eq!(org["plan"]["seats"], 50);
}

#[tokio::test]
async fn an_unknown_org_is_a_404_in_githubs_shape() {
    let gh = spawn("github").await;
    let res = client()
        .get(format!("{}/orgs/nope", gh.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
    );
}

#[tokio::test]
async fn patch_merges_the_given_fields_and_touches_updated_at() {
    let gh = spawn("github").await;
    let res = client()
        .patch(format!("{}/orgs/github", gh.base_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"description": "Where the world builds software", "location": "Remote", "id": 999, "plan": {"name": "free"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let org: Value = res.json().await.unwrap();
    assert_eq!(org["description"], "Where the world builds software");
    assert_eq!(org["location"], "Remote");
    assert_eq!(org["company"], "GitHub", "fields not sent are kept");
    assert_eq!(org["id"], 1, "read-only fields are ignored");
    assert_eq!(org["plan"]["name"], "Medium");
    let updated = org["updated_at"].as_str().unwrap();
    assert_ne!(updated, "2014-03-03T18:58:10Z");
    assert!(chrono::DateTime::parse_from_rfc3339(updated).is_ok(), "{updated}");
    assert_eq!(org["created_at"], "2008-01-14T04:33:35Z");
    assert_eq!(
        gh.record("orgs", "github").unwrap(),
        org,
        "the stored record is what was answered"
    );
}

#[tokio::test]
async fn patch_with_an_invalid_value_is_a_422_in_githubs_shape() {
    let gh = spawn("github").await;
    let res = client()
        .patch(format!("{}/orgs/github", gh.base_url()))
        .bearer_auth(TOKEN)
        .json(&json!({"default_repository_permission": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(body["errors"][0]["code"], "invalid");
    assert_eq!(body["errors"][0]["field"], "default_repository_permission");
    assert_eq!(body["errors"][0]["resource"], "Organization");
    assert_eq!(
        gh.record("orgs", "github").unwrap()["default_repository_permission"],
        "read"
    );
}

#[tokio::test]
async fn delete_answers_202_and_the_org_is_gone() {
    let gh = spawn("github").await;
    let res = client()
        .delete(format!("{}/orgs/acme-robotics", gh.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({}));
    assert!(gh.record("orgs", "acme-robotics").is_none());
}

fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(", ").find_map(|part| {
        let (url, rel) = part.split_once("; ")?;
        (rel == "rel=\"next\"").then(|| url.trim_matches(['<', '>']).to_owned())
    })
}

#[tokio::test]
async fn a_link_header_walk_visits_every_one_of_250_inserted_orgs() {
    let gh = spawn("github").await;
    for i in 0..250 {
        gh.insert_record(
            "orgs",
            json!({"login": format!("bulk-org-{i:03}"), "id": 100_000 + i, "node_id": format!("O_bulk{i}"),
                   "url": format!("https://api.github.com/orgs/bulk-org-{i:03}"), "description": null}),
        );
    }
    let mut url = format!("{}/user/orgs?per_page=100", gh.base_url());
    let mut logins = Vec::new();
    let mut pages = 0;
    loop {
        let res = client().get(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let next = next_link(res.headers());
        if pages == 0 {
            let link = res.headers()["link"].to_str().unwrap().to_owned();
            assert!(
                link.contains(&format!(
                    "<{}/user/orgs?per_page=100&page=3>; rel=\"last\"",
                    gh.base_url()
                )),
                "{link}"
            );
        }
        let page: Vec<Value> = res.json().await.unwrap();
        assert!(page.iter().all(|o| o.get("plan").is_none()), "lists hold simple orgs");
        logins.extend(page.iter().map(|o| o["login"].as_str().unwrap().to_owned()));
        pages += 1;
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(logins.len(), 253);
    logins.sort();
    logins.dedup();
    assert_eq!(logins.len(), 253, "no org is seen twice");
}

#[tokio::test]
async fn per_page_is_clamped_to_100_and_defaults_to_30() {
    let gh = spawn("github").await;
    for i in 0..150 {
        gh.insert_record("orgs", json!({"login": format!("o{i}"), "id": i}));
    }
    let get = |q: &'static str| {
        client()
            .get(format!("{}/user/orgs{q}", gh.base_url()))
            .bearer_auth(TOKEN)
            .send()
    };
    assert_eq!(get("").await.unwrap().json::<Vec<Value>>().await.unwrap().len(), 30);
    assert_eq!(
        get("?per_page=500")
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
            .len(),
        100
    );
}
