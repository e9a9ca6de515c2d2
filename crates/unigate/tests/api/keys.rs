//! Key rotation: every account re-sealed under the new key, readable without the old one.

use unigate::config::Config;
use unigate::crypto::Keyring;
use unigate::startup::{Application, BuildOptions};

use crate::helpers::{spawn_app_with, TestApp};

const KEY_A: &str = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";
const KEY_B: &str = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=";

/// Gets an organization through a second gateway on the same store that knows only `key`.
async fn get_with_only(app: &TestApp, key: &str, account: &str) -> reqwest::Response {
    let mut config: Config = (*app.state.config).clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.encryption_key = Some(key.into());
    config.previous_encryption_keys.clear();
    let other = Application::build(config, BuildOptions::default()).await.unwrap();
    let base = format!("http://{}", other.local_addr());
    tokio::spawn(other.run_until_stopped(std::future::pending()));
    app.client
        .get(format!("{base}{}", app.orgs_path(account, Some("octo-org"), "")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn rotation_reseals_every_account_under_the_new_key() {
    let app = spawn_app_with(|c| c.encryption_key = Some(KEY_A.into())).await;
    let accounts = [app.connect("github").await, app.connect("juniper-mist").await];

    let rotated =
        Keyring::from_key(Keyring::decode_key(KEY_B).unwrap()).with_previous(Keyring::decode_key(KEY_A).unwrap());
    let report = unigate::accounts::rotate_all(app.state.store.as_ref(), &rotated)
        .await
        .unwrap();

    assert_eq!((report.accounts, report.resealed), (2, 2));
    for id in &accounts {
        let env = app.state.store.first_environment().await.unwrap().unwrap();
        let rec = app.state.store.get_account(&env.id, id).await.unwrap().unwrap();
        assert_eq!(Keyring::key_id_of(&rec.secrets), Some(rotated.primary_key_id()));
    }
    let again = unigate::accounts::rotate_all(app.state.store.as_ref(), &rotated)
        .await
        .unwrap();
    assert_eq!(again.resealed, 0, "re-running is a no-op");

    // An instance that only knows the new key serves the accounts.
    assert_eq!(get_with_only(&app, KEY_B, &accounts[0]).await.status(), 200);

    // One that only knows the old key can no longer open them, and says nothing secret.
    let r = get_with_only(&app, KEY_A, &accounts[0]).await;
    assert_eq!(r.status(), 500);
    let body = r.text().await.unwrap();
    assert!(
        !body.contains("ghp_") && body.contains("Internal server error"),
        "{body}"
    );
}

/// A token refresh that lands between the rotation's read of an account and its write is
/// kept: the rotation reads the account again and reseals the refreshed secrets, instead of
/// writing back the ones it read (whose refresh token the provider has already spent).
#[tokio::test]
async fn a_refresh_during_rotation_is_not_undone() {
    let app = spawn_app_with(|c| c.encryption_key = Some(KEY_A.into())).await;
    let id = app.connect("github").await;
    let env = app.state.store.first_environment().await.unwrap().unwrap();
    let read_by_rotation = app.state.store.get_account(&env.id, &id).await.unwrap().unwrap();

    // The running gateway refreshes: new secrets, still under the old key.
    let old = Keyring::from_key(Keyring::decode_key(KEY_A).unwrap());
    let mut refreshed = read_by_rotation.clone();
    let mut secrets = serde_json::Map::new();
    secrets.insert("access_token".into(), "ghp_refreshed".into());
    refreshed.secrets = unigate::accounts::seal_secrets(&old, &id, &secrets);
    assert!(app.state.store.update_account_credentials(&refreshed).await.unwrap());

    let rotated =
        Keyring::from_key(Keyring::decode_key(KEY_B).unwrap()).with_previous(Keyring::decode_key(KEY_A).unwrap());
    let done = unigate::accounts::reseal(app.state.store.as_ref(), &rotated, read_by_rotation)
        .await
        .unwrap();

    assert!(done);
    let stored = app.state.store.get_account(&env.id, &id).await.unwrap().unwrap();
    assert_eq!(Keyring::key_id_of(&stored.secrets), Some(rotated.primary_key_id()));
    let opened = unigate::accounts::open_secrets(&rotated, &stored).unwrap();
    assert_eq!(opened["access_token"], "ghp_refreshed");
}
