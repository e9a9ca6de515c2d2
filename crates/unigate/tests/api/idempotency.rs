//! `Idempotency-Key`: a retried write is answered from the record, never applied twice.

use reqwest::Method;
use serde_json::json;
use unigate_emulator::Fault;

use crate::helpers::{app_with_account, assert_error, TestApp};

async fn keyed(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value, bool) {
    let r = app
        .client
        .request(method, format!("{}{}", app.address, path))
        .bearer_auth(&app.token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    (status, r.json().await.unwrap_or_default(), replayed)
}

fn patches(app: &TestApp) -> usize {
    app.emulator("github")
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count()
}

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_answer() {
    let (app, account) = app_with_account("github").await;
    let path = app.orgs_path(&account, Some("octo-org"), "");

    let (s1, b1, replayed1) = keyed(&app, Method::PATCH, &path, "k-1", json!({"name": "Once"})).await;
    let (s2, b2, replayed2) = keyed(&app, Method::PATCH, &path, "k-1", json!({"name": "Once"})).await;

    assert_eq!((s1, replayed1), (200, false));
    assert_eq!((s2, replayed2), (200, true));
    assert_eq!(b1, b2);
    assert_eq!(patches(&app), 1, "the write reached the provider once");
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_422() {
    let (app, account) = app_with_account("github").await;
    let path = app.orgs_path(&account, Some("octo-org"), "");
    keyed(&app, Method::PATCH, &path, "k-2", json!({"name": "A"})).await;

    let r = app
        .client
        .patch(format!("{}{}", app.address, path))
        .bearer_auth(&app.token)
        .header("Idempotency-Key", "k-2")
        .json(&json!({"name": "B"}))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 422);
    assert_eq!(patches(&app), 1);
}

#[tokio::test]
async fn a_failed_write_releases_its_key_for_a_retry() {
    let (app, account) = app_with_account("github").await;
    let path = app.orgs_path(&account, Some("octo-org"), "");
    app.emulator("github").inject(
        Fault::respond(503, json!({"message": "busy"}))
            .on("PATCH", "/orgs/*")
            .times(1),
    );

    let (s1, _, _) = keyed(&app, Method::PATCH, &path, "k-3", json!({"name": "Retry me"})).await;
    let (s2, b2, replayed) = keyed(&app, Method::PATCH, &path, "k-3", json!({"name": "Retry me"})).await;

    assert_eq!(s1, 502);
    assert_eq!((s2, replayed), (200, false));
    assert_eq!(b2["name"], "Retry me");
    assert_eq!(patches(&app), 2);
}

#[tokio::test]
async fn a_key_still_in_flight_is_a_409() {
    let (app, account) = app_with_account("github").await;
    let path = app.orgs_path(&account, Some("octo-org"), "");
    let gh = app.emulator("github").clone();
    gh.inject(
        Fault::delay(std::time::Duration::from_millis(800))
            .on("PATCH", "/orgs/*")
            .times(1),
    );

    let first = keyed(&app, Method::PATCH, &path, "k-4", json!({"name": "Slow"}));
    let second = async {
        while !gh.requests().iter().any(|r| r.method == "PATCH") {
            // Real time: paused, the clock races through the provider's hold while SQLite's threads work.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let r = app
            .client
            .patch(format!("{}{}", app.address, path))
            .bearer_auth(&app.token)
            .header("Idempotency-Key", "k-4")
            .json(&json!({"name": "Slow"}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
    };
    let ((s1, _, _), (s2, b2)) = tokio::join!(first, second);

    assert_eq!(s1, 200);
    assert_eq!(s2, 409, "{b2}");
    assert!(b2["message"].as_str().unwrap().contains("in progress"));
    assert_eq!(patches(&app), 1);
}

#[tokio::test]
async fn a_rate_limited_create_is_retried_because_nothing_was_applied() {
    let (app, account) = app_with_account("juniper-mist").await;
    app.emulator("juniper-mist")
        .inject(Fault::rate_limited(1).on("POST", "/api/v1/orgs").times(1));

    let r = app
        .send(
            Method::POST,
            &app.orgs_path(&account, None, ""),
            Some(json!({"name": "Hooli"})),
        )
        .await;

    assert_eq!(r.status, 201, "{}", r.text);
    let posts = app
        .emulator("juniper-mist")
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 2);
    let created = app
        .emulator("juniper-mist")
        .records("orgs")
        .iter()
        .filter(|o| o["name"] == "Hooli")
        .count();
    assert_eq!(created, 1, "created exactly once");
}

#[tokio::test]
async fn a_broken_connection_on_a_create_is_not_retried() {
    let (app, account) = app_with_account("juniper-mist").await;
    app.emulator("juniper-mist")
        .inject(Fault::drop_connection().on("POST", "/api/v1/orgs").times(1));

    let r = app
        .send(
            Method::POST,
            &app.orgs_path(&account, None, ""),
            Some(json!({"name": "Hooli"})),
        )
        .await;

    assert_error(&r, 502);
    let posts = app
        .emulator("juniper-mist")
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1);
}
