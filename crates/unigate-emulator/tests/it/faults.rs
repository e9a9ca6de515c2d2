use std::time::{Duration, Instant};

use serde_json::{json, Value};
use unigate_emulator::{Fault, MalformedStyle};

use crate::helpers::{client, spawn};

const GH_TOKEN: &str = "ghp_SandboxToken0000000000000000000001";
const MB_TOKEN: &str = "mbt_sandbox.eyJ0ZW5hbnQiOiJzYW5kYm94In0.c2lnbmF0dXJl";

async fn get_org(base: &str) -> reqwest::Result<reqwest::Response> {
    client()
        .get(format!("{base}/orgs/github"))
        .bearer_auth(GH_TOKEN)
        .send()
        .await
}

#[tokio::test]
async fn a_status_sequence_is_answered_in_order_then_the_emulator_recovers() {
    let gh = spawn("github").await;
    gh.inject(Fault::rate_limited(1).on("GET", "/orgs/*").times(1));
    gh.inject(Fault::status(503).on("GET", "/orgs/*").times(1));

    let first = get_org(&gh.base_url()).await.unwrap();
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "1");
    assert_eq!(get_org(&gh.base_url()).await.unwrap().status(), 503);
    assert_eq!(get_org(&gh.base_url()).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_fault_on_one_path_leaves_others_alone() {
    let gh = spawn("github").await;
    gh.inject(Fault::status(500).on_path("/user/orgs"));
    assert_eq!(get_org(&gh.base_url()).await.unwrap().status(), 200);
    let list = client()
        .get(format!("{}/user/orgs", gh.base_url()))
        .bearer_auth(GH_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 500);
    gh.clear_faults();
    let list = client()
        .get(format!("{}/user/orgs", gh.base_url()))
        .bearer_auth(GH_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
}

#[tokio::test]
async fn an_html_error_page_can_be_answered() {
    let gh = spawn("github").await;
    gh.inject(
        Fault::status(502)
            .with_raw_body("<html><body>Bad gateway</body></html>")
            .times(1),
    );
    let res = get_org(&gh.base_url()).await.unwrap();
    assert_eq!(res.status(), 502);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("Bad gateway"));
}

#[tokio::test]
async fn a_delay_adds_latency_then_answers_normally() {
    let gh = spawn("github").await;
    gh.inject(Fault::delay(Duration::from_millis(300)).times(1));
    let started = Instant::now();
    let res = get_org(&gh.base_url()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_delay_on_reads_makes_two_read_modify_write_sequences_race() {
    let mb = spawn("mindbridge").await;
    let id = "695eb7fb4a256d5f26300000";
    mb.inject(Fault::delay(Duration::from_millis(300)).on_method("GET"));
    let update = |name: &'static str| {
        let base = mb.base_url();
        tokio::spawn(async move {
            let url = format!("{base}/api/v1/organizations/{id}");
            let current: Value = client().get(&url).bearer_auth(MB_TOKEN).send().await?.json().await?;
            let body = json!({"version": current["version"], "name": name});
            let res = client().put(&url).bearer_auth(MB_TOKEN).json(&body).send().await?;
            reqwest::Result::Ok(res.status().as_u16())
        })
    };
    let (a, b) = tokio::join!(update("Writer A"), update("Writer B"));
    let mut statuses = [a.unwrap().unwrap(), b.unwrap().unwrap()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "both read version 3; the second write is stale");
    assert_eq!(mb.record("organizations", id).unwrap()["version"], 4);
}

#[tokio::test]
async fn a_dropped_connection_is_a_client_error_and_the_next_request_succeeds() {
    let gh = spawn("github").await;
    gh.inject(Fault::drop_connection().times(1));
    let err = get_org(&gh.base_url()).await.unwrap_err();
    assert!(!err.is_status(), "no HTTP answer at all: {err:?}");
    assert_eq!(get_org(&gh.base_url()).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_truncated_json_body_fails_to_parse() {
    let gh = spawn("github").await;
    gh.inject(Fault::malformed(MalformedStyle::TruncatedJson).times(1));
    let res = get_org(&gh.base_url()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let text = res.text().await.unwrap();
    assert!(text.starts_with("{\"login\":\"github\""), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn an_html_page_with_200_is_not_json() {
    let gh = spawn("github").await;
    gh.inject(Fault::malformed(MalformedStyle::Html).times(1));
    let res = get_org(&gh.base_url()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(res.json::<Value>().await.is_err());
}

#[tokio::test]
async fn a_huge_body_is_streamed_whole() {
    let gh = spawn("github").await;
    gh.inject(Fault::huge(5_000_000).times(1));
    let res = get_org(&gh.base_url()).await.unwrap();
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len(), 5_000_000 - 12 + 11);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(body["data"].as_str().unwrap().len() > 4_000_000);
}

#[tokio::test]
async fn faults_and_the_request_log_are_reachable_over_http() {
    let gh = spawn("github").await;
    let faults = format!("{}/__emulator/faults", gh.base_url());
    let added = client()
        .post(&faults)
        .json(&json!({"method": "GET", "path": "/orgs/*", "times": 1,
                      "action": {"respond": {"status": 429, "headers": {"Retry-After": "2"}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 204);
    let listed: Vec<Value> = client().get(&faults).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.len(), 1);
    let res = get_org(&gh.base_url()).await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "2");

    let bad = client()
        .post(&faults)
        .json(&json!({"action": "explode"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    client()
        .post(&faults)
        .json(&json!({"action": {"respond": {"status": 500}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(client().delete(&faults).send().await.unwrap().status(), 204);
    assert_eq!(get_org(&gh.base_url()).await.unwrap().status(), 200);

    let log: Vec<Value> = client()
        .get(format!("{}/__emulator/requests", gh.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 2, "control requests are not recorded");
    assert_eq!(log[0]["method"], "GET");
    assert_eq!(log[0]["path"], "/orgs/github");
}

#[tokio::test]
async fn requests_are_recorded_with_lower_case_headers_query_and_json_body() {
    let gh = spawn("github").await;
    client()
        .patch(format!("{}/orgs/github?dry_run=1", gh.base_url()))
        .bearer_auth(GH_TOKEN)
        .header("X-GitHub-Api-Version", "2022-11-28")
        .json(&json!({"blog": "https://example.com"}))
        .send()
        .await
        .unwrap();
    let requests = gh.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.method, "PATCH");
    assert_eq!(req.path, "/orgs/github");
    assert_eq!(req.query, "dry_run=1");
    assert!(req
        .headers
        .iter()
        .any(|(n, v)| n == "x-github-api-version" && v == "2022-11-28"));
    assert_eq!(req.header("Authorization"), Some(format!("Bearer {GH_TOKEN}").as_str()));
    assert_eq!(req.json, Some(json!({"blog": "https://example.com"})));
    gh.clear_requests();
    assert!(gh.requests().is_empty());
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let gh = spawn("github").await;
    let base = gh.base_url();
    assert_eq!(get_org(&base).await.unwrap().status(), 200);
    gh.shutdown().await;
    assert!(client().get(format!("{base}/orgs/github")).send().await.is_err());
}
