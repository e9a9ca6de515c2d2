//! The unified `get`'s direct path past the router (`http::unified::Gets`) answers exactly
//! as the router's path does. A path with an escape (`%2D` is `-`) goes through the
//! router, which decodes it, so each pair below asks for the same record both ways.

use reqwest::Method;

use crate::helpers::{app_with_account, Reply, TestApp};

/// Status, body (byte for byte) and headers alike, but for the date.
fn assert_same(direct: &Reply, routed: &Reply, what: &str) {
    assert_eq!(direct.status, routed.status, "{what}: {}", direct.text);
    assert_eq!(direct.text, routed.text, "{what}");
    let headers = |r: &Reply| {
        let mut all: Vec<(String, String)> = r
            .headers
            .iter()
            .filter(|(name, _)| *name != "date")
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("?").to_string()))
            .collect();
        all.sort();
        all
    };
    assert_eq!(headers(direct), headers(routed), "{what}");
}

async fn both(app: &TestApp, token: &str, direct: &str, routed: &str) -> (Reply, Reply) {
    (
        app.send_as(token, Method::GET, direct, None).await,
        app.send_as(token, Method::GET, routed, None).await,
    )
}

#[tokio::test]
async fn the_direct_get_answers_as_the_routed_one() {
    let (app, account) = app_with_account("github").await;
    let token = app.token.clone();
    for extra in [
        "",
        "&truto_response_format=raw",
        "&truto_response_format=normalized",
        "&truto_exclude_fields[]=name",
        "&truto_ignore_remote_data=true",
    ] {
        let (direct, routed) = both(
            &app,
            &token,
            &app.orgs_path(&account, Some("octo-org"), extra),
            &app.orgs_path(&account, Some("octo%2Dorg"), extra),
        )
        .await;
        assert_eq!(direct.status, 200, "{extra}: {}", direct.text);
        assert_same(&direct, &routed, extra);
    }
    // The errors: a record the provider does not have, an account that does not exist, a
    // query that does not parse, a resource no integration maps, and no valid token.
    let cases = [
        (token.as_str(), app.orgs_path(&account, Some("no-such-org"), ""), 404),
        (
            token.as_str(),
            app.orgs_path("no-such-account", Some("octo-org"), ""),
            404,
        ),
        (
            token.as_str(),
            app.orgs_path(&account, Some("octo-org"), "&limit=zero"),
            400,
        ),
        (
            token.as_str(),
            "/unified/user-directory/organizations/octo-org".to_string(),
            400,
        ),
        (
            token.as_str(),
            format!("/unified/user-directory/no-such-resource/octo-org?integrated_account_id={account}"),
            404,
        ),
        ("not-a-token", app.orgs_path(&account, Some("octo-org"), ""), 401),
    ];
    for (who, path, status) in cases {
        let escaped = path
            .replacen("octo-org", "octo%2Dorg", 1)
            .replacen("no-such-org", "no%2Dsuch-org", 1);
        assert_ne!(escaped, path);
        let (direct, routed) = both(&app, who, &path, &escaped).await;
        assert_eq!(direct.status, status, "{path}: {}", direct.text);
        assert_same(&direct, &routed, &path);
    }
    // Both logged, as every unified call is.
    let log = crate::request_log::entries(&app, &format!("integrated_account_id={account}"), 16).await;
    let paths: Vec<&str> = log["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/unified/user-directory/organizations/octo-org"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/unified/user-directory/organizations/octo%2Dorg"),
        "{paths:?}"
    );
}
