//! A raw resource's own `base_url`: refused off the integration's hosts when the catalog is
//! validated, sent to the operator's override like the integration's (so to the emulator in
//! tests), with the same credentials, and address-checked at call time. Also the check of a
//! body cursor's dotted path (`add_to_body`).

use std::process::Command;

use serde_json::json;

use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with, TOKEN};
use crate::helpers::assert_error;

const ROUTES: &str = "  - { method: GET, path: \"/v1/items/{id}\", op: get, collection: items }\n  - { method: GET, path: \"/audit/v2/items/{id}\", op: get, collection: items }\n";

#[test]
fn a_resource_base_url_off_the_integrations_hosts_fails_validation_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("integrations/bad-hosts");
    std::fs::create_dir_all(&folder).unwrap();
    let resource = |name: &str, url: &str| {
        format!("  {name}:\n    get:\n      method: get\n      base_url: \"{url}\"\n      path: /x\n")
    };
    let rest = format!(
        "allowed_hosts: [\"*.ok.example\"]\nresources:\n{}{}{}{}{}",
        resource("foreign", "https://evil.example/api"),
        resource("plain", "http://audit.ok.example/api"),
        resource("templated", "https://{{context.host}}/api"),
        resource("relative", "/audit"),
        resource("fine", "https://audit.ok.example/api"),
    );
    let text = integration_yaml("bad-hosts", "https://api.bad-hosts.example", &rest);
    std::fs::write(folder.join("integration.yaml"), &text).unwrap();
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let file = "integrations/bad-hosts/integration.yaml";

    let out = Command::new(env!("CARGO_BIN_EXE_unigate"))
        .arg("validate")
        .arg(dir.path())
        .output()
        .unwrap();

    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for (needle, message) in [
        ("evil.example", "resources.foreign.get.base_url is on `evil.example`, which is neither the integration's base_url host nor in `allowed_hosts`"),
        ("http://audit", "resources.plain.get.base_url must be an https URL, not `http`"),
        ("context.host", "resources.templated.get.base_url cannot hold placeholders"),
        ("\"/audit\"", "resources.relative.get.base_url is not an absolute URL"),
    ] {
        assert!(err.contains(&format!("{file}:{}: {message}", line(needle))), "{needle}: {err}");
    }
    assert!(!err.contains("resources.fine"), "{err}");
}

#[tokio::test]
async fn a_resource_on_another_host_reaches_its_own_path_on_the_override_with_the_credentials() {
    let rest = "allowed_hosts: [audit.two-hosts.example]\nresources:\n  items:\n    get: { method: get, path: \"/items/{{id}}\" }\n  audit:\n    get: { method: get, base_url: \"https://audit.two-hosts.example/audit/v2\", path: \"/items/{{id}}\" }\n";
    let p = custom_provider(
        "two-hosts",
        &integration_yaml("two-hosts", "https://api.two-hosts.example/v1", rest),
        &emulator_yaml(2, ROUTES),
    )
    .await;
    let app = spawn_with(&p, true, |_| {}).await;
    let account = crate::custom::connect(&app, &p, json!({})).await;

    let own = app
        .get(&format!("/proxy/audit/2?integrated_account_id={account}"))
        .await;
    let main = app
        .get(&format!("/proxy/items/1?integrated_account_id={account}"))
        .await;

    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(own.body, json!({"id": "2", "name": "item 2"}));
    assert_eq!(main.status, 200, "{}", main.text);
    let sent = p.emulator.requests();
    let lines: Vec<(&str, &str)> = sent.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    assert_eq!(lines, [("GET", "/audit/v2/items/2"), ("GET", "/v1/items/1")]);
    let bearer = format!("Bearer {TOKEN}");
    for r in &sent {
        assert_eq!(r.header("authorization"), Some(bearer.as_str()));
    }
}

#[tokio::test]
async fn a_resource_base_url_on_a_private_address_is_refused_before_any_call() {
    let rest = "allowed_hosts: [\"169.254.169.254\"]\nresources:\n  items:\n    get: { method: get, path: \"/items/{{id}}\" }\n  metadata:\n    get: { method: get, base_url: \"https://169.254.169.254/latest\", path: \"/items/{{id}}\" }\n";
    let p = custom_provider(
        "private-resource",
        &integration_yaml("private-resource", "https://api.private-resource.example", rest),
        &emulator_yaml(1, ROUTES),
    )
    .await;
    let app = spawn_with(&p, false, |_| {}).await;
    let account = crate::custom::connect(&app, &p, json!({})).await;

    let r = app
        .get(&format!("/proxy/metadata/1?integrated_account_id={account}"))
        .await;

    let msg = assert_error(&r, 502);
    assert!(
        msg.contains("private-resource") && msg.contains("169.254.169.254"),
        "{msg}"
    );
    assert!(msg.contains("not a public address"), "{msg}");
    assert!(p.emulator.requests().is_empty(), "nothing may reach the address");
}

#[test]
fn a_body_cursor_path_with_an_empty_key_fails_validation_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("integrations/bad-body-cursor");
    std::fs::create_dir_all(&folder).unwrap();
    let rest = "resources:\n  events:\n    list:\n      method: post\n      path: /events\n      pagination:\n        format: cursor\n        add_to_body: true\n        cursor_param: page..after\n        limit_param: size\n        next_cursor: response.next\n";
    let text = integration_yaml("bad-body-cursor", "https://api.bad-body-cursor.example", rest);
    std::fs::write(folder.join("integration.yaml"), &text).unwrap();
    let line = text.lines().position(|l| l.contains("page..after")).unwrap() + 1;

    let out = Command::new(env!("CARGO_BIN_EXE_unigate"))
        .arg("validate")
        .arg(dir.path())
        .output()
        .unwrap();

    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "integrations/bad-body-cursor/integration.yaml:{line}: pagination.cursor_param `page..after` is not a dotted path of keys"
        )),
        "{err}"
    );
    assert!(!err.contains("limit_param"), "{err}");
}
