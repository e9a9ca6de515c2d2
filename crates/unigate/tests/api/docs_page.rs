//! `GET /docs`: the API reference page rendered from the served OpenAPI document. Public,
//! HTML, a Content-Security-Policy that allows nothing but its own inline style sheet,
//! every operation of `/openapi.json` on it, catalog text escaped, and page and document
//! rebuilt together when the catalog reloads. The page in a real browser: `browser.rs`.

use base64::Engine as _;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with, CustomProvider};
use crate::helpers::{spawn_app, TestApp};

/// The page and its headers, fetched without a token.
async fn page(app: &TestApp) -> (reqwest::header::HeaderMap, String) {
    let r = app.client.get(format!("{}/docs", app.address)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    (headers, r.text().await.unwrap())
}

async fn document(app: &TestApp) -> Value {
    let r = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The anchor id the page gives an operation (as `http/docs.rs`'s `slug`).
fn anchor(operation_id: &str) -> String {
    let slug: String = operation_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("id=\"op-{slug}\"")
}

fn operation_ids(doc: &Value) -> Vec<String> {
    doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_docs_page_is_public_html_under_a_strict_csp_and_shows_every_served_operation() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let (headers, html) = page(&app).await;
    let doc = document(&app).await;
    // Assert: HTML, no script, nothing from elsewhere.
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(!csp.contains("http") && !csp.contains("unsafe"), "{csp}");
    assert!(!html.to_lowercase().contains("<script"), "the page needs no script");
    assert!(
        !html.contains(" src=") && !html.contains("href=\"http") && !html.contains("href=\"//"),
        "no external reference"
    );
    // The one style sheet is the one the policy allows, by its hash.
    let style = html.split("<style>").nth(1).unwrap().split("</style>").next().unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style.as_bytes()));
    assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
    // Every operation of the served document, and the unified resources in the navigation.
    let ids = operation_ids(&doc);
    assert!(ids.len() > 30, "{}", ids.len());
    for id in &ids {
        assert!(html.contains(&anchor(id)), "`{id}` is not on the page");
    }
    for resource in ["users", "groups", "organizations"] {
        assert!(
            html.contains(&format!("<a href=\"#tag-user-directory-{resource}\">")),
            "`{resource}` is not in the navigation"
        );
    }
    // The per-integration support extension, on an operation and on a field.
    let users_list = &doc["paths"]["/unified/user-directory/users"]["get"];
    let supporter = users_list["x-unigate-integrations"][0].as_str().unwrap();
    assert!(html.contains(&format!("<span class=\"chip\">{supporter}</span>")));
    assert!(html.contains("Filled by"));
    // The same bytes on every call: cached with the document.
    assert_eq!(page(&app).await.1, html);
}

const NAME: &str = "docsy";

/// A provider whose catalog text is hostile HTML: its parameter's description is `text`.
async fn provider(text: &str) -> CustomProvider {
    let rest = "resources:\n  organizations:\n    get: { method: get, path: \"/items/{{id}}\" }\n";
    let routes = "  - { method: GET, path: \"/items/{id}\", op: get, collection: items }\n";
    let p = custom_provider(
        NAME,
        &integration_yaml(NAME, "https://api.docsy.example", rest),
        &emulator_yaml(1, routes),
    )
    .await;
    write_mapping(&p, text);
    p
}

fn write_mapping(p: &CustomProvider, description: &str) {
    let mapping = format!(
        "organizations:\n  get:\n    resource: organizations.get\n    query_params:\n      region:\n        description: {}\n    response_mapping: '{{ \"id\": response.id }}'\n",
        serde_json::to_string(description).unwrap()
    );
    let path = p.dir.path().join("integrations").join(NAME).join("user-directory.yaml");
    std::fs::write(path, mapping).unwrap();
}

#[tokio::test]
async fn catalog_text_is_escaped_and_a_reload_rebuilds_the_page_with_the_document() {
    // Arrange
    let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> \"quoted\" & 'single'";
    let p = provider(hostile).await;
    let app = spawn_with(&p, true, |c| c.catalog_watch_interval_ms = 0).await;
    // Act
    let (_, html) = page(&app).await;
    // Assert: shown as text, never as markup.
    assert!(!html.contains("<script>alert"), "unescaped");
    assert!(!html.contains("<img src=x"), "unescaped");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; &quot;quoted&quot; &amp; &#39;single&#39;"),
        "the description is not on the page, escaped"
    );
    let doc = document(&app).await;
    assert!(doc.to_string().contains("alert(1)"), "the document holds it as it is");

    // A reload changes the document and the page together.
    write_mapping(&p, "The region, `eu` or `us`.");
    let r = app.send(Method::POST, "/integration/reload", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let doc = document(&app).await;
    let (_, html) = page(&app).await;
    assert!(!doc.to_string().contains("alert(1)"));
    assert!(doc.to_string().contains("The region, `eu` or `us`."));
    assert!(!html.contains("alert(1)"), "the page still shows the old catalog");
    assert!(html.contains("The region, <code>eu</code> or <code>us</code>."));
}
