//! The connect flow's endpoints over plain HTTP: link tokens, the API-key path with a
//! redirect, the OAuth path with its `state` checks.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_error, spawn_app, spawn_app_with, TestApp};

#[tokio::test]
async fn a_link_token_is_single_use_and_checks_its_input() {
    let app = spawn_app().await;
    for (body, needle) in [
        (json!({}), "tenant_id"),
        (json!({"tenant_id": "t", "integration": "nope"}), "nope"),
        (
            json!({"tenant_id": "t", "redirect_uri": "javascript:alert(1)"}),
            "redirect_uri",
        ),
    ] {
        let r = app.send(Method::POST, "/link-token", Some(body)).await;
        assert!(assert_error(&r, 400).contains(needle));
    }
    let unauthenticated = app
        .client
        .post(format!("{}/link-token", app.address))
        .json(&json!({"tenant_id": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let r = app
        .send(
            Method::POST,
            "/link-token",
            Some(json!({"tenant_id": "acme", "integration": "auth0", "redirect_uri": "https://app.example.com/done"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.body["link_token"].as_str().unwrap().to_string();
    assert!(r.body["url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/connect?link_token=lt_", app.address)));
    assert!(r.body["expires_at"].is_string());

    let session = app
        .client
        .get(format!("{}/connect/api/session?link_token={token}", app.address))
        .send()
        .await
        .unwrap();
    let session: serde_json::Value = session.json().await.unwrap();
    assert_eq!(session["integrations"].as_array().unwrap().len(), 1);
    assert_eq!(session["integrations"][0]["name"], "auth0");
    assert!(
        !session.to_string().contains("sandbox-auth0"),
        "no secret values in the session"
    );

    let creds = &app.credentials["auth0"];
    let body = json!({"link_token": token, "integration": "auth0", "context": {
        "tenant_domain": creds["tenant_domain"], "client_id": creds["client_id"], "client_secret": creds["client_secret"]}});
    let other = app
        .client
        .post(format!("{}/connect/api/accounts", app.address))
        .json(&json!({"link_token": token, "integration": "github", "context": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 400, "the link is for auth0 only");
    let created = app
        .client
        .post(format!("{}/connect/api/accounts", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["status"], "active");
    assert_eq!(created["tenant_id"], "acme");
    let redirect = created["redirect_url"].as_str().unwrap();
    assert!(
        redirect.starts_with("https://app.example.com/done?integrated_account_id="),
        "{redirect}"
    );
    assert!(redirect.ends_with("&integration=auth0&status=active"), "{redirect}");
    assert!(!created.to_string().contains(creds["client_secret"].as_str().unwrap()));

    let reused = app
        .client
        .post(format!("{}/connect/api/accounts", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), 404, "single use");
}

#[tokio::test]
async fn the_oauth_path_sends_pkce_and_refuses_a_tampered_state() {
    let app = spawn_app().await;
    let r = app
        .send(
            Method::POST,
            "/link-token",
            Some(json!({"tenant_id": "acme", "integration": "google-cloud"})),
        )
        .await;
    let token = r.body["link_token"].as_str().unwrap().to_string();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let start = no_redirects
        .get(format!(
            "{}/connect/oauth/start?link_token={token}&integration=google-cloud",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let to = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(to.path(), "/o/oauth2/v2/auth");
    assert_eq!(q["client_id"], "000000000001-sandbox.apps.googleusercontent.com");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["redirect_uri"], format!("{}/connect/oauth/callback", app.address));
    assert!(!q["state"].contains(&token), "the link token is not in the state");

    // A forged or altered state is refused without touching the provider.
    // One character changed well inside the ciphertext (not the last one, whose low bits
    // may be padding), to a different character.
    let mut chars: Vec<char> = q["state"].chars().collect();
    let at = chars.len() - 10;
    assert_ne!(chars[at], '.');
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    let forged: String = chars.into_iter().collect();
    let cb = app
        .client
        .get(format!("{}/connect/oauth/callback?code=x&state={forged}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(cb.status(), 400);
    assert!(cb.text().await.unwrap().contains("state"));

    // The person declines on the consent page: nothing is stored, the link still works.
    let state = q["state"].clone();
    let declined = app
        .client
        .get(format!("{}/connect/oauth/callback?error=access_denied", app.address))
        .query(&[("state", &state)])
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), 400);
    let session = app
        .client
        .get(format!("{}/connect/api/session?link_token={token}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 200);
    let accounts = app.get("/integrated-account?tenant_id=acme").await;
    assert_eq!(accounts.body["result"].as_array().unwrap().len(), 0);
}

/// An account connected by link to an integration that declares no validation request is
/// checked with its organizations list: the emulator's credentials make it `active`, a wrong
/// secret makes it `validation_error` with the provider's refusal, not `active`.
#[tokio::test]
async fn without_a_declared_validation_the_organizations_list_checks_the_credentials() {
    use unigate::catalog::types::CredentialFormat;
    let app = spawn_app().await;
    let names: Vec<String> = app
        .state
        .registry()
        .integrations
        .values()
        .filter(|i| i.config.credentials.validation.is_none())
        .filter(|i| !matches!(i.config.credentials.format, CredentialFormat::Oauth2))
        .map(|i| i.name().to_string())
        .collect();
    assert!(names.len() >= 20, "{names:?}");
    let mut refused_checked = 0;
    for name in &names {
        let integration = app.state.registry().integration(name).unwrap().clone();
        let mut context = app.sandbox_context(name, json!({}));
        for f in &integration.config.credentials.fields {
            if f.required && !context.contains_key(&f.name) {
                context.insert(f.name.clone(), json!("acme"));
            }
        }
        let created = connect_by_link(&app, name, context.clone()).await;
        assert_eq!(created["status"], "active", "{name}: {created}");

        let secrets: Vec<&str> = integration.secret_fields().collect();
        if secrets.is_empty() {
            continue;
        }
        for s in &secrets {
            context.insert((*s).to_string(), json!("wrong-credential-0000"));
        }
        let created = connect_by_link(&app, name, context).await;
        assert_eq!(created["status"], "validation_error", "{name}: {created}");
        assert!(
            created["last_error"]
                .as_str()
                .unwrap_or_default()
                .contains("The validation request was refused"),
            "{name}: {created}"
        );
        refused_checked += 1;
    }
    assert!(refused_checked >= 20, "{refused_checked} of {}", names.len());
}

/// An account for `integration` created through a new link token, as the connect page does.
async fn connect_by_link(
    app: &TestApp,
    integration: &str,
    context: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let token = link_token(app).await;
    let r = app
        .client
        .post(format!("{}/connect/api/accounts", app.address))
        .json(&json!({"link_token": token, "integration": integration, "context": context}))
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

async fn link_token(app: &TestApp) -> String {
    let r = app
        .send(Method::POST, "/link-token", Some(json!({"tenant_id": "acme"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["link_token"].as_str().unwrap().to_string()
}

/// Okta's consent page is on the customer's own domain: the link page asks for it first,
/// the sign-in goes there (only to an Okta host), and the account keeps it.
#[tokio::test]
async fn okta_oauth_connect_asks_for_the_domain_first_and_keeps_it() {
    let app = spawn_app().await;
    let r = app
        .send(
            Method::POST,
            "/link-token",
            Some(json!({"tenant_id": "acme-okta", "integration": "okta"})),
        )
        .await;
    let token = r.body["link_token"].as_str().unwrap().to_string();
    let session = app
        .client
        .get(format!("{}/connect/api/session?link_token={token}", app.address))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let okta = &session["integrations"][0];
    assert_eq!(okta["oauth"], true, "{session}");
    let asked: Vec<&str> = okta["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(asked, ["okta_domain"], "only what the sign-in needs, nothing secret");

    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = |extra: &str| {
        no_redirects
            .get(format!(
                "{}/connect/oauth/start?link_token={token}&integration=okta{extra}",
                app.address
            ))
            .send()
    };
    // Without the domain, or with one that is not Okta's: refused, nobody sent anywhere.
    let r = start("").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("okta_domain"));
    let r = start("&okta_domain=login.evil.example").await.unwrap();
    assert_eq!(r.status(), 400);

    let (account, to) = consent(&app, &token, "okta", "&okta_domain=acme.okta.com").await;
    assert_eq!(to.path(), "/oauth2/v1/authorize");
    let scope = to.query_pairs().find(|(k, _)| k == "scope").unwrap().1.into_owned();
    assert!(
        scope.contains("okta.users.manage") && scope.contains("offline_access"),
        "{scope}"
    );

    // The account has the domain and a Bearer token from Okta's token endpoint, and works.
    let view = app.get(&format!("/integrated-account/{account}")).await;
    assert_eq!(view.body["context"]["okta_domain"], "acme.okta.com", "{}", view.text);
    let users = app
        .get(&format!(
            "/unified/user-directory/users?integrated_account_id={account}"
        ))
        .await;
    assert_eq!(users.status, 200, "{}", users.text);
    let okta = app.emulator("okta");
    let sent = okta.requests();
    let exchange = sent.iter().find(|r| r.path == "/oauth2/v1/token").unwrap();
    assert!(exchange.body_text().contains("grant_type=authorization_code"));
    assert!(sent
        .last()
        .unwrap()
        .header("authorization")
        .unwrap()
        .starts_with("Bearer "));
}

/// The consent path of a link: `oauth/start` with `extra`, the person allows on the
/// provider's consent page (the emulator's), and the callback stores the account. Returns
/// the account id and the consent page's URL.
async fn consent(app: &TestApp, token: &str, integration: &str, extra: &str) -> (String, url::Url) {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects
        .get(format!(
            "{}/connect/oauth/start?link_token={token}&integration={integration}{extra}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let mut form: Vec<(String, String)> = to.query_pairs().into_owned().collect();
    form.push(("decision".into(), "allow".into()));
    let mut consent_page = to.clone();
    consent_page.set_query(None);
    let back = no_redirects.post(consent_page).form(&form).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.contains("code="), "{callback}");
    let page = app.client.get(&callback).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-status=\"active\""), "{page}");
    let account = page.split("data-account=\"").nth(1).unwrap().split('"').next().unwrap();
    (account.to_string(), to)
}

/// Entra ID is a client-credentials integration, but with the operator's app configured the
/// link page connects it by an administrator's consent on the tenant's own authorize page.
#[tokio::test]
async fn entra_id_connects_by_consent_on_the_tenants_page() {
    const TENANT: &str = "3d9f1c2e-7b4a-4f5e-9c8d-1a2b3c4d5e6f";
    let app = spawn_app().await;
    let r = app
        .send(
            Method::POST,
            "/link-token",
            Some(json!({"tenant_id": "acme-entra", "integration": "microsoft-entra-id"})),
        )
        .await;
    let token = r.body["link_token"].as_str().unwrap().to_string();
    let session: serde_json::Value = app
        .client
        .get(format!("{}/connect/api/session?link_token={token}", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entra = &session["integrations"][0];
    assert_eq!(entra["oauth"], true, "{session}");
    assert_eq!(
        entra["fields"].as_array().unwrap().len(),
        1,
        "only the tenant: {session}"
    );
    assert_eq!(entra["fields"][0]["name"], "tenant_id");

    let (account, to) = consent(&app, &token, "microsoft-entra-id", &format!("&tenant_id={TENANT}")).await;

    assert_eq!(to.path(), format!("/{TENANT}/oauth2/v2.0/authorize"));
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert!(
        q["scope"].contains("offline_access") && q["scope"].contains("User.ReadWrite.All"),
        "{}",
        q["scope"]
    );
    assert_eq!(q["code_challenge_method"], "S256");
    let view = app.get(&format!("/integrated-account/{account}")).await;
    assert_eq!(view.body["context"]["tenant_id"], TENANT, "{}", view.text);
    let users = app
        .get(&format!(
            "/unified/user-directory/users?integrated_account_id={account}"
        ))
        .await;
    assert_eq!(users.status, 200, "{}", users.text);
    let sent = app.emulator("microsoft-entra-id").requests();
    let exchange = sent.iter().find(|r| r.path.ends_with("/oauth2/v2.0/token")).unwrap();
    assert!(
        exchange.body_text().contains("grant_type=authorization_code"),
        "{}",
        exchange.body_text()
    );
    assert!(sent
        .last()
        .unwrap()
        .header("authorization")
        .unwrap()
        .starts_with("Bearer eyJ0eXAi"));
}

#[tokio::test]
async fn the_page_may_be_framed_only_by_the_configured_origins() {
    let csp = |r: &reqwest::Response| r.headers()["content-security-policy"].to_str().unwrap().to_string();
    let app = spawn_app().await;
    let r = app.client.get(format!("{}/connect", app.address)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(csp(&r).ends_with("; frame-ancestors 'none'"), "{}", csp(&r));
    assert_eq!(r.headers()["x-frame-options"], "DENY");

    let app = spawn_app_with(|c| {
        c.connect_frame_ancestors = vec!["https://app.example.com".into(), "https://*.example.org:8443".into()];
    })
    .await;
    let r = app.client.get(format!("{}/connect", app.address)).send().await.unwrap();
    assert!(
        csp(&r).ends_with("; frame-ancestors https://app.example.com https://*.example.org:8443"),
        "{}",
        csp(&r)
    );
    assert!(r.headers().get("x-frame-options").is_none());

    // Anything that could end the directive is refused when the configuration is read.
    for bad in [
        "https://a.example.com; script-src *",
        "app.example.com",
        "*",
        "https://",
    ] {
        let config = unigate::config::Config {
            connect_frame_ancestors: vec![bad.into()],
            ..Default::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("connect_frame_ancestors"), "{bad}: {error}");
    }
}
