//! The `unigate` binary's `validate` command, on the shipped catalog and on broken ones.

use std::process::Command;

fn unigate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_unigate"))
}

#[test]
fn the_shipped_catalog_validates() {
    let out = unigate().arg("validate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("catalog OK"));
}

#[test]
fn a_broken_catalog_reports_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let gh = dir.path().join("integrations/github");
    std::fs::create_dir_all(&gh).unwrap();
    std::fs::write(
        gh.join("user-directory.yaml"),
        "organizations:\n  get:\n    resource: organizations.get\n    response_mapping: '{ \"id\": '\n  list:\n    resource: organizations.nope\n",
    )
    .unwrap();
    let bad = dir.path().join("integrations/bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("integration.yaml"),
        "name: bad\nlabel: Bad\nbase_url: https://x\nsurprise: 1\n",
    )
    .unwrap();

    let out = unigate().arg("validate").arg(dir.path()).output().unwrap();

    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("integrations/github/user-directory.yaml:4"), "{err}");
    assert!(err.contains("organizations.nope"), "{err}");
    assert!(err.contains("integrations/bad/integration.yaml"), "{err}");
    assert!(err.contains("surprise"), "{err}");
}

#[tokio::test]
async fn a_token_minted_by_the_cli_opens_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let out = unigate()
        .args(["token", "create", "--name", "ci", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.starts_with("ug_") && token.len() == 67, "{token}");

    let config = unigate::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let app = unigate::startup::Application::build(config, Default::default())
        .await
        .unwrap();
    assert!(app.bootstrap_token.is_none(), "the environment already exists");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let list_accounts = || async {
        reqwest::Client::new()
            .get(format!("{base}/integrated-account"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(list_accounts().await, 200);

    // Listed (never shown again), then revoked: the API refuses it.
    let out = unigate()
        .args(["token", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!listed.contains(&token), "{listed}");
    let line = listed
        .lines()
        .find(|l| l.split('\t').nth(1) == Some("ci"))
        .expect("the ci token is listed");
    let id = line.split('\t').next().unwrap();
    let out = unigate()
        .args(["token", "revoke", id, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = unigate()
        .args(["token", "revoke", id, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a second revoke finds nothing");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no API token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(unigate::auth::TOKEN_CACHE_TTL).await;
    assert_eq!(list_accounts().await, 401);
}

#[test]
fn keys_rotate_reports_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let out = unigate()
        .args(["keys", "rotate", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-sealed 0 of 0 account(s)"));
}
