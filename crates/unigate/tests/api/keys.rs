//! Key rotation: every account re-sealed under the new key, readable without the old one.

use unigate::accounts::crypto::Keyring;
use unigate::config::Config;
use unigate::startup::{Application, BuildOptions};

use crate::helpers::spawn_app_with;

const KEY_A: &str = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";
const KEY_B: &str = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=";

async fn serve(config: Config) -> String {
    let app = Application::build(config, BuildOptions::default()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    base
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
    let mut only_b = (*app.state.config).clone();
    only_b.listen = "127.0.0.1:0".parse().unwrap();
    only_b.encryption_key = Some(KEY_B.into());
    let base = serve(only_b).await;
    let r = app
        .client
        .get(format!("{base}{}", app.orgs_path(&accounts[0], Some("octo-org"), "")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // One that only knows the old key can no longer open them, and says nothing secret.
    let mut only_a = (*app.state.config).clone();
    only_a.listen = "127.0.0.1:0".parse().unwrap();
    only_a.encryption_key = Some(KEY_A.into());
    let base = serve(only_a).await;
    let r = app
        .client
        .get(format!("{base}{}", app.orgs_path(&accounts[0], Some("octo-org"), "")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let body = r.text().await.unwrap();
    assert!(
        !body.contains("ghp_") && body.contains("Internal server error"),
        "{body}"
    );
}
