//! MindBridge: PUT-only writes with an optimistic `version`, read-merge-write, races.

use reqwest::Method;
use serde_json::json;
use unigate_emulator::Fault;

use crate::helpers::{app_with_account, assert_error};

const ACME: &str = "695eb7fb4a256d5f26300000";

#[tokio::test]
async fn get_maps_dates_and_keeps_the_version_in_remote_data() {
    let (app, account) = app_with_account("mindbridge").await;

    let r = app.get(&app.orgs_path(&account, Some(ACME), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], ACME);
    assert_eq!(r.body["name"], "Acme Manufacturing");
    assert_eq!(r.body["created_at"], "2023-11-07T05:31:56Z");
    assert_eq!(r.body["updated_at"], "2024-01-02T10:00:00Z");
    assert_eq!(r.body["remote_data"]["version"], 3);
}

#[tokio::test]
async fn patch_reads_merges_and_puts_the_full_object_with_its_version() {
    let (app, account) = app_with_account("mindbridge").await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ACME), ""),
            Some(json!({"name": "Acme Mfg"})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Mfg");
    let put = app
        .emulator("mindbridge")
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(
        put.json.unwrap(),
        json!({"version": 3, "name": "Acme Mfg", "externalClientCode": "AC-01",
               "managerUserIds": ["64f0a1b2c3d4e5f607182930"]})
    );
    let stored = app.emulator("mindbridge").record("organizations", ACME).unwrap();
    assert_eq!(stored["version"], 4);
    assert_eq!(
        stored["externalClientCode"], "AC-01",
        "fields not in the patch survive the PUT"
    );
}

#[tokio::test]
async fn two_racing_patches_both_land() {
    let (app, account) = app_with_account("mindbridge").await;
    // Slow reads make the two read-merge-write sequences overlap (how much depends on the
    // machine; the outcome must not).
    app.emulator("mindbridge")
        .inject(Fault::delay(std::time::Duration::from_millis(300)).on("GET", "/api/v1/organizations/*"));

    let path = app.orgs_path(&account, Some(ACME), "");
    let (a, b) = tokio::join!(
        app.send(Method::PATCH, &path, Some(json!({"name": "Renamed by A"}))),
        app.send(
            Method::PATCH,
            &path,
            Some(json!({"remote_data": {"externalClientCode": "B-CODE"}}))
        ),
    );

    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(b.status, 200, "{}", b.text);
    let stored = app.emulator("mindbridge").record("organizations", ACME).unwrap();
    assert_eq!(stored["version"], 5, "two writes landed");
    assert_eq!(stored["externalClientCode"], "B-CODE", "nothing lost");
    assert_eq!(stored["name"], "Renamed by A", "nothing lost");
}

#[tokio::test]
async fn a_write_that_loses_a_race_reads_merges_and_retries() {
    let (app, account) = app_with_account("mindbridge").await;
    let mb = app.emulator("mindbridge").clone();
    // Hold the gateway's PUT long enough for another writer to land first.
    mb.inject(
        Fault::delay(std::time::Duration::from_millis(500))
            .on("PUT", "/api/v1/organizations/*")
            .times(1),
    );

    let path = app.orgs_path(&account, Some(ACME), "");
    let patch = app.send(Method::PATCH, &path, Some(json!({"name": "Renamed by Unigate"})));
    let other_writer = async {
        // The PUT is recorded when it arrives, before its delay.
        while !mb.requests().iter().any(|r| r.method == "PUT") {
            // Real time: paused, the clock races through the provider's hold while SQLite's threads work.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let mut rec = mb.record("organizations", ACME).unwrap();
        rec["version"] = json!(4);
        rec["externalClientCode"] = json!("CHANGED-ELSEWHERE");
        mb.insert_record("organizations", rec);
    };
    let (r, ()) = tokio::join!(patch, other_writer);

    assert_eq!(r.status, 200, "{}", r.text);
    let puts: Vec<_> = mb.requests().into_iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 2, "the stale write was refused, then retried");
    assert_eq!(puts[0].json.as_ref().unwrap()["version"], 3);
    assert_eq!(puts[1].json.as_ref().unwrap()["version"], 4);
    let stored = mb.record("organizations", ACME).unwrap();
    assert_eq!(stored["name"], "Renamed by Unigate");
    assert_eq!(
        stored["externalClientCode"], "CHANGED-ELSEWHERE",
        "the other writer's change survived"
    );
    assert_eq!(stored["version"], 5);
}

#[tokio::test]
async fn a_write_that_keeps_conflicting_is_a_clean_409() {
    let (app, account) = app_with_account("mindbridge").await;
    app.emulator("mindbridge").inject(
        Fault::respond(409, json!({"type": "about:blank", "title": "Conflict", "status": 409,
                                    "problems": [{"problemType": "OPTIMISTIC_LOCK", "identifier": "version", "reason": "stale"}]}))
        .on("PUT", "/api/v1/organizations/*"),
    );

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ACME), ""),
            Some(json!({"name": "X"})),
        )
        .await;

    let msg = assert_error(&r, 409);
    assert!(msg.contains("3 attempts"), "{msg}");
    assert_eq!(r.body["raw_response"]["problems"][0]["problemType"], "OPTIMISTIC_LOCK");
    let puts = app
        .emulator("mindbridge")
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(puts, 3);
    assert_eq!(
        app.emulator("mindbridge").record("organizations", ACME).unwrap()["name"],
        "Acme Manufacturing"
    );
}

#[tokio::test]
async fn an_invalid_name_is_mindbridges_problem_and_nothing_changes() {
    let (app, account) = app_with_account("mindbridge").await;
    let long = "x".repeat(81);

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ACME), ""),
            Some(json!({"name": long})),
        )
        .await;

    assert_error(&r, 400);
    assert!(r.body["raw_response"]["problems"].is_array(), "{}", r.text);
    assert_eq!(
        app.emulator("mindbridge").record("organizations", ACME).unwrap()["version"],
        3
    );
}

#[tokio::test]
async fn unknown_properties_in_remote_data_are_rejected_by_mindbridge() {
    let (app, account) = app_with_account("mindbridge").await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ACME), ""),
            Some(json!({"remote_data": {"color": "blue"}})),
        )
        .await;

    assert_error(&r, 400);
    assert_eq!(r.body["truto_is_remote_error"], true);
}

#[tokio::test]
async fn list_walks_spring_pages() {
    let (app, account) = app_with_account("mindbridge").await;
    for i in 0..10 {
        app.emulator("mindbridge").insert_record(
            "organizations",
            json!({"id": format!("695eb7fb4a256d5f263001{i:02}"), "version": 0, "name": format!("Extra {i}")}),
        );
    }

    let mut seen = 0;
    let mut path = app.orgs_path(&account, None, "&limit=5");
    let mut pages = 0;
    loop {
        let r = app.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen += r.body["result"].as_array().unwrap().len();
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => path = app.orgs_path(&account, None, &format!("&limit=5&next_cursor={c}")),
            None => break,
        }
    }

    let total = app.emulator("mindbridge").records("organizations").len();
    assert_eq!(seen, total);
    assert_eq!(pages, total.div_ceil(5));
    let q = app.emulator("mindbridge").requests().last().unwrap().clone();
    assert_eq!(q.method, "POST");
    assert!(q.query.contains("size=5"), "{}", q.query);
}
