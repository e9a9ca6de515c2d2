//! `serve --sandbox`: emulators in-process, one account each, usable at once.

use unigate::config::Config;
use unigate::startup::{Application, BuildOptions};

/// `serve --sandbox` on a fresh data directory (kept for as long as the caller holds it).
async fn sandbox() -> (tempfile::TempDir, Application) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let app = Application::build(config, BuildOptions { sandbox: true })
        .await
        .unwrap();
    (dir, app)
}

#[tokio::test]
async fn every_sandbox_account_answers_list_and_get() {
    let (_dir, app) = sandbox().await;
    let base = format!("http://{}", app.local_addr());
    let token = app.sandbox_token.clone().unwrap();
    let accounts = app.sandbox_accounts.clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = reqwest::Client::new();
    // What the sandbox's curl line for `path` answers: its status and JSON body.
    let fetch = |path: String| {
        let request = client.get(format!("{base}{path}")).bearer_auth(&token);
        async move {
            let r = request.send().await.unwrap();
            let status = r.status();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };

    assert!(accounts.len() >= 4, "{accounts:?}");
    let with_users: Vec<&str> = accounts
        .iter()
        .filter(|a| a.users_query.is_some())
        .map(|a| a.integration.as_str())
        .collect();
    for expected in ["okta", "microsoft-entra-id", "google-workspace", "auth0"] {
        assert!(with_users.contains(&expected), "{expected} lists users: {with_users:?}");
    }
    for a in &accounts {
        let (status, body) = fetch(format!(
            "/unified/user-directory/organizations?integrated_account_id={}",
            a.account_id
        ))
        .await;
        if status == 405 {
            // One-per-token providers (a "me" endpoint) cannot list.
            assert!(
                body["message"].as_str().unwrap().contains("list"),
                "{}: {body}",
                a.integration
            );
        } else {
            assert_eq!(status, 200, "{}: {body}", a.integration);
            assert!(
                !body["result"].as_array().unwrap().is_empty(),
                "{}: {body}",
                a.integration
            );
        }

        // The users line the sandbox prints for integrations that list users answers too.
        if let Some(extra) = &a.users_query {
            let (status, body) = fetch(format!(
                "/unified/user-directory/users?integrated_account_id={}{extra}",
                a.account_id
            ))
            .await;
            assert_eq!(status, 200, "{} users: {body}", a.integration);
            assert!(
                !body["result"].as_array().unwrap().is_empty(),
                "{} users: {body}",
                a.integration
            );
        }

        // The example id comes from mapping the emulator's first record through the `get`
        // mapping; for "me"-style providers that record is not the organization.
        let Some(id) = a.example_id.as_deref() else {
            assert!(
                !["github", "juniper-mist", "krystal", "mindbridge"].contains(&a.integration.as_str()),
                "{} should have an example id",
                a.integration
            );
            continue;
        };
        let (status, body) = fetch(format!(
            "/unified/user-directory/organizations/{id}?integrated_account_id={}",
            a.account_id
        ))
        .await;
        assert_eq!(status, 200, "{}: {body}", a.integration);
        assert_eq!(body["id"], id, "{}", a.integration);
    }
}

#[tokio::test]
async fn a_restart_reuses_the_sandbox_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let first = Application::build(config.clone(), BuildOptions { sandbox: true })
        .await
        .unwrap();
    let ids: Vec<String> = first.sandbox_accounts.iter().map(|a| a.account_id.clone()).collect();
    assert!(first.bootstrap_token.is_some());
    drop(first);
    let second = Application::build(config, BuildOptions { sandbox: true })
        .await
        .unwrap();
    let again: Vec<String> = second.sandbox_accounts.iter().map(|a| a.account_id.clone()).collect();
    assert_eq!(ids, again);
    assert!(second.bootstrap_token.is_none(), "the admin token is minted only once");
    // This run's sandbox token replaced the last run's: restarts do not pile up tokens.
    let env = second.state().store.first_environment().await.unwrap().unwrap();
    let names: Vec<String> = second
        .state()
        .store
        .list_api_tokens(&env.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "sandbox").count(), 1, "{names:?}");
}

/// `unigate sandbox-curls` prints a line for every unified list of every sandbox account,
/// and every line answers 200 with records against the running sandbox.
#[tokio::test]
async fn every_curl_line_of_sandbox_curls_answers() {
    let (dir, app) = sandbox().await;
    let base = format!("http://{}", app.local_addr());
    let token = app.sandbox_token.clone().unwrap();
    let expected: usize = app.sandbox_accounts.iter().map(|a| a.lists.len()).sum();
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_unigate"))
        .args(["sandbox-curls", "--base-url", &base, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let urls: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("curl "))
        .map(|l| l.split('\'').nth(1).unwrap())
        .collect();
    assert_eq!(urls.len(), expected, "one line per list of each account:\n{text}");
    for resource in [
        "organizations",
        "users",
        "groups",
        "roles",
        "me",
        "activities",
        "licenses",
    ] {
        assert!(
            urls.iter().any(|u| u.contains(&format!("/user-directory/{resource}?"))),
            "{resource}:\n{text}"
        );
    }
    let client = reqwest::Client::new();
    for url in urls {
        let r = client.get(url).bearer_auth(&token).send().await.unwrap();
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{url}: {body}");
        assert!(body["result"].is_array(), "{url}: {body}");
    }

    let one = std::process::Command::new(env!("CARGO_BIN_EXE_unigate"))
        .args([
            "sandbox-curls",
            "--integration",
            "okta",
            "--base-url",
            &base,
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&one.stdout);
    assert!(
        text.starts_with("# okta\n") && text.matches("# ").count() == 1,
        "{text}"
    );
}
