//! The connect flow end to end in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven over WebDriver against the gateway and the provider emulators.
//! Skipped, with a line saying so, when chromedriver is not installed, unless
//! `REQUIRE_BROWSER=1` (CI sets it).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

struct Driver {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser() -> Option<(Client, Driver)> {
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&driver).exists() || !std::path::Path::new(&chromium).exists() {
        assert!(
            std::env::var("REQUIRE_BROWSER").as_deref() != Ok("1"),
            "REQUIRE_BROWSER=1 but {driver} or {chromium} is missing (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: {driver} or {chromium} not found (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let guard = Driver {
        child,
        _profile: profile,
    };
    let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
        // The console's messages, read back by `console_log`.
        "goog:loggingPrefs": { "browser": "ALL" },
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", guard._profile.path().display()),
            ]
        }
    }))
    .unwrap();
    for _ in 0..100 {
        // Plain HTTP to the local chromedriver: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let connected = ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        if let Ok(client) = connected {
            return Some((client, guard));
        }
        // Real time: chromedriver is another process, starting at its own pace.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

async fn link(app: &TestApp, body: Value) -> String {
    let r = app.send(Method::POST, "/link-token", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["url"].as_str().unwrap().to_string()
}

/// Waits for an element and returns it.
async fn find(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}` on the page: {e}"))
}

#[tokio::test]
async fn github_oauth_connect_in_a_real_browser() {
    let Some((client, _driver)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let url = link(&app, json!({"tenant_id": "acme-browser", "integration": "github"})).await;

    client.goto(&url).await.unwrap();
    // The link names one integration: the page goes straight to its button.
    find(&client, "#connect").await.click().await.unwrap();
    // The provider's consent page (the emulator's), then back to Unigate.
    find(&client, "#allow").await.click().await.unwrap();
    let result = find(&client, "#result").await;
    let status = result.attr("data-status").await.unwrap().unwrap();
    let account = result.attr("data-account").await.unwrap().unwrap();
    let text = result.text().await.unwrap();
    client.close().await.unwrap();

    assert_eq!(status, "active", "{text}");
    let view = app.get(&format!("/integrated-account/{account}")).await;
    assert_eq!(view.body["tenant_id"], "acme-browser");
    assert_eq!(view.body["status"], "active");
    assert!(!view.text.contains("ghu_"), "{}", view.text);
    // PKCE: the code exchange carried the verifier, and it matched the challenge.
    let gh = app.emulator("github");
    let exchange = gh
        .requests()
        .into_iter()
        .find(|r| r.path == "/login/oauth/access_token")
        .unwrap();
    assert!(exchange.body_text().contains("code_verifier="));
    // The account works, with the token the browser flow obtained.
    let org = app.get(&app.orgs_path(&account, Some("github"), "")).await;
    assert_eq!(org.status, 200, "{}", org.text);
    assert!(gh
        .requests()
        .last()
        .unwrap()
        .header("authorization")
        .unwrap()
        .starts_with("Bearer ghu_"));
    // The link was single use.
    let again = app.client.get(&url).send().await.unwrap();
    assert_eq!(again.status(), 200, "the page itself loads");
    let session = app
        .client
        .get(url.replace("/connect?", "/connect/api/session?"))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 404);
}

#[tokio::test]
async fn api_key_connect_in_a_real_browser_validates_the_credentials() {
    let Some((client, _driver)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    let creds = app.credentials["auth0"].clone();

    for (secret, expected) in [
        (creds["client_secret"].as_str().unwrap(), "active"),
        ("wrong-secret", "validation_error"),
    ] {
        let url = link(&app, json!({"tenant_id": "acme-browser"})).await;
        client.goto(&url).await.unwrap();
        // The link does not name an integration: pick one from the list.
        find(&client, "#pick-auth0").await.click().await.unwrap();
        find(&client, "#field-tenant_domain")
            .await
            .send_keys(creds["tenant_domain"].as_str().unwrap())
            .await
            .unwrap();
        find(&client, "#field-client_id")
            .await
            .send_keys(creds["client_id"].as_str().unwrap())
            .await
            .unwrap();
        find(&client, "#field-client_secret")
            .await
            .send_keys(secret)
            .await
            .unwrap();
        find(&client, "#connect").await.click().await.unwrap();
        let result = find(&client, "#result[data-status]").await;
        let status = result.attr("data-status").await.unwrap().unwrap();
        let account = result.attr("data-account").await.unwrap().unwrap();
        let text = result.text().await.unwrap();
        assert_eq!(status, expected, "{text}");
        let view = app.get(&format!("/integrated-account/{account}")).await;
        assert_eq!(view.body["status"], expected);
        if expected == "validation_error" {
            assert!(
                view.body["last_error"].as_str().unwrap().contains("invalid_client"),
                "{}",
                view.text
            );
            assert!(text.contains("failed"), "{text}");
        }
    }
    client.close().await.unwrap();
}

/// Chromedriver's own command for the browser console's messages since the last call
/// (`POST /session/{id}/se/log`; WebDriver has no standard one).
#[derive(Debug)]
struct ConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// The console's messages (level and text) since the last call.
async fn console_log(client: &Client) -> Vec<(String, String)> {
    let log = client.issue_cmd(ConsoleLog).await.unwrap();
    log.as_array()
        .unwrap_or_else(|| panic!("no log: {log}"))
        .iter()
        .map(|e| {
            (
                e["level"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_docs_page_renders_offline_in_a_real_browser() {
    let Some((client, _driver)) = browser().await else {
        return;
    };
    let app = spawn_app().await;
    client.set_window_size(1280, 1000).await.unwrap();

    client.goto(&format!("{}/docs", app.address)).await.unwrap();
    let nav = find(&client, "nav").await;
    let nav_text = nav.text().await.unwrap();
    // The unified resources are listed, and their sections are there.
    for resource in ["users", "groups", "organizations"] {
        assert!(
            nav_text.contains(resource),
            "`{resource}` not in the navigation: {nav_text}"
        );
        find(&client, &format!("section#tag-user-directory-{resource} article.op")).await;
    }
    let title = client.title().await.unwrap();
    // The style sheet applied (the CSP allowed it): the navigation is a sticky column.
    let position = client
        .execute(
            "return getComputedStyle(document.querySelector('nav')).position",
            vec![],
        )
        .await
        .unwrap();
    // Everything the page loaded, beyond itself.
    let loaded = client
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .unwrap();
    // The navigation works: a link to a resource scrolls to its section.
    find(&client, "nav a[href='#tag-user-directory-groups']")
        .await
        .click()
        .await
        .unwrap();
    let url = client.current_url().await.unwrap();
    let screenshot = client.screenshot().await.unwrap();
    let console = console_log(&client).await;
    client.close().await.unwrap();

    assert!(title.contains("API reference"), "{title}");
    assert_eq!(position, json!("sticky"), "the inline style sheet was not applied");
    assert_eq!(loaded, json!([]), "the page loaded something else");
    assert_eq!(url.fragment(), Some("tag-user-directory-groups"));
    let problems: Vec<_> = console
        .iter()
        .filter(|(level, _)| level == "SEVERE" || level == "WARNING")
        .collect();
    assert!(problems.is_empty(), "console: {problems:?}");
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("docs-page.png");
    std::fs::write(&file, &screenshot).unwrap();
    assert!(screenshot.starts_with(b"\x89PNG"), "not a PNG");
    println!("screenshot of /docs: {}", file.display());
}
