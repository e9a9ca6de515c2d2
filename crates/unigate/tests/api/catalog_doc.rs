//! `docs/catalog.md` kept true: its file examples pass `unigate validate --strict`, its
//! walkthrough's provider answers over HTTP as the page says, and every key of the format
//! (`catalog/types.rs`) is documented there.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use unigate_emulator::EmulatorSpec;

use crate::helpers::{result_ids, spawn_app_with, walk_records};

fn doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/catalog.md");
    std::fs::read_to_string(path).unwrap()
}

/// The page's file examples: each fenced block opened by ```` ```yaml title=PATH ````, as
/// (path relative to a catalog root, text).
fn file_examples(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line.strip_prefix("```yaml title=") else {
            continue;
        };
        let mut text = String::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            text.push_str(l);
            text.push('\n');
        }
        out.push((path.trim().to_string(), text));
    }
    out
}

/// A catalog directory holding every file example of the page.
fn catalog_of_examples() -> (tempfile::TempDir, Vec<(String, String)>) {
    let examples = file_examples(&doc());
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in &examples {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    (dir, examples)
}

fn example<'a>(examples: &'a [(String, String)], path: &str) -> &'a str {
    examples
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t.as_str())
        .unwrap_or_else(|| panic!("docs/catalog.md has no example titled {path}"))
}

fn validate_strict(dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_unigate"))
        .args(["validate", "--strict"])
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn every_file_example_of_the_catalog_reference_validates_strictly() {
    let (dir, examples) = catalog_of_examples();
    for wanted in [
        "integrations/tinyhr/integration.yaml",
        "integrations/tinyhr/user-directory.yaml",
        "integrations/tinyhr/emulator.yaml",
        "integrations/example-crm/integration.yaml",
        "integrations/example-crm/user-directory.yaml",
        "models/example-ticketing.yaml",
    ] {
        example(&examples, wanted);
    }

    let out = validate_strict(dir.path());

    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("catalog OK"));
}

#[test]
fn a_broken_example_would_fail_the_check() {
    // The check above can fail: the walkthrough's mapping with a key the model lacks.
    let (dir, examples) = catalog_of_examples();
    let mapping = example(&examples, "integrations/tinyhr/user-directory.yaml");
    std::fs::write(
        dir.path().join("integrations/tinyhr/user-directory.yaml"),
        mapping.replacen("\"first_name\":", "\"frist_name\":", 1),
    )
    .unwrap();

    let out = validate_strict(dir.path());

    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("frist_name"));
}

#[tokio::test]
async fn the_walkthrough_provider_answers_users_list_and_get_as_documented() {
    // Arrange: the page's catalog, the page's emulator, an account with its credentials.
    let (dir, examples) = catalog_of_examples();
    let spec = EmulatorSpec::from_yaml("tinyhr", example(&examples, "integrations/tinyhr/emulator.yaml")).unwrap();
    let key = spec.credentials()["api_key"].clone();
    let tinyhr = unigate_emulator::start(spec).await.unwrap();
    let app = spawn_app_with(|c| {
        c.catalog_dir = Some(dir.path().to_path_buf());
        c.upstream.base_url_overrides.insert("tinyhr".into(), tinyhr.base_url());
    })
    .await;
    let account = app.connect_with("tinyhr", json!({ "api_key": key })).await;
    // Act: every page of the users list, a filtered list, one user.
    let users = format!("/unified/user-directory/users?integrated_account_id={account}");
    let (records, pages) = walk_records(&app, &users, 2).await;
    let by_email = app.get(&format!("{users}&email=alan@tinyhr.test")).await;
    let one = app
        .get(&format!(
            "/unified/user-directory/users/1?integrated_account_id={account}"
        ))
        .await;
    let missing = app
        .get(&format!(
            "/unified/user-directory/users/9?integrated_account_id={account}"
        ))
        .await;

    // Assert
    let bearer = format!("Bearer {}", key.as_str().unwrap());
    assert!(tinyhr
        .requests()
        .iter()
        .all(|q| q.header("authorization") == Some(bearer.as_str())));
    let ids: Vec<&str> = records.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert_eq!(pages, 2, "pages of two, as `limit` asked");
    assert_eq!(records[2]["status"], "inactive");
    assert_eq!(by_email.status, 200, "{}", by_email.text);
    assert_eq!(result_ids(&by_email), ["3"]);
    assert!(
        tinyhr
            .requests()
            .iter()
            .any(|q| q.query.contains("email=alan%40tinyhr.test")),
        "the filter reached the provider (`filters: [email]`)"
    );
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["id"], "1");
    assert_eq!(one.body["name"], "Ada Lovelace");
    assert_eq!(
        one.body["emails"],
        json!([{ "email": "ada@tinyhr.test", "type": "work" }])
    );
    assert_eq!(one.body["created_at"], "2024-01-02T10:00:00Z");
    assert_eq!(one.body["remote_data"]["given_name"], "Ada");
    assert_eq!(
        crate::helpers::assert_error(&missing, 404),
        "tinyhr answered 404: Not Found"
    );
    assert_eq!(missing.body["raw_response"]["error"]["message"], "Not Found");
}

/// Every key (and tag value) of the catalog's serde types, read from `catalog/types.rs`'s
/// text: the `pub` fields of its structs (`#[serde(rename = "...")]` honoured), the fields
/// of its enums' struct variants (tagged formats: `authorization`, `pagination`), the tag
/// names and the variants' names as written in YAML (`rename_all`).
fn format_keys() -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/catalog/types.rs");
    let text = std::fs::read_to_string(path).unwrap();
    let quoted = |line: &str, key: &str| -> Option<String> {
        let rest = &line[line.find(key)? + key.len()..];
        let rest = rest.trim_start().strip_prefix('=')?.trim_start().strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_string())
    };
    let mut keys = Vec::new();
    // (type name, is an enum, its `rename_all`) of the item being read, and brace depth.
    let mut item: Option<(String, bool, Option<String>)> = None;
    let mut depth = 0usize;
    let mut serde_attrs: Vec<String> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("#[serde(") {
            serde_attrs.push(t.to_string());
            continue;
        }
        if t.starts_with("///") || t.starts_with("#[") || t.is_empty() {
            continue;
        }
        if item.is_none() {
            for (prefix, is_enum) in [("pub struct ", false), ("pub enum ", true)] {
                if let Some(rest) = t.strip_prefix(prefix) {
                    if !t.ends_with('{') {
                        continue;
                    }
                    let name = rest.split([' ', '{']).next().unwrap().to_string();
                    let rename_all = serde_attrs.iter().find_map(|a| quoted(a, "rename_all"));
                    if let Some(tag) = serde_attrs.iter().find_map(|a| quoted(a, "tag")) {
                        keys.push((format!("{name} (tag)"), tag));
                    }
                    item = Some((name, is_enum, rename_all));
                    depth = 1;
                }
            }
            serde_attrs.clear();
            continue;
        }
        let (name, is_enum, rename_all) = item.clone().unwrap();
        let field = |t: &str| -> Option<String> {
            let t = t.strip_prefix("pub ").unwrap_or(t);
            let (ident, _) = t.split_once(':')?;
            ident
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                .then(|| ident.to_string())
        };
        let rename = serde_attrs.iter().find_map(|a| quoted(a, "rename"));
        if !is_enum && depth == 1 && t.starts_with("pub ") && !t.starts_with("pub fn") {
            if let Some(f) = field(t) {
                keys.push((format!("{name}.{f}"), rename.unwrap_or(f)));
            }
        } else if is_enum && depth == 1 && t.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            let variant: String = t.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            let yaml = match rename_all.as_deref() {
                Some("lowercase") => variant.to_lowercase(),
                Some("snake_case") => {
                    let mut s = String::new();
                    for (i, c) in variant.chars().enumerate() {
                        if c.is_ascii_uppercase() && i > 0 {
                            s.push('_');
                        }
                        s.push(c.to_ascii_lowercase());
                    }
                    s
                }
                _ => variant.clone(),
            };
            keys.push((format!("{name}::{variant}"), rename.unwrap_or(yaml)));
        } else if is_enum && depth == 2 {
            if let Some(f) = field(t) {
                keys.push((format!("{name} variant field {f}"), rename.unwrap_or(f)));
            }
        }
        serde_attrs.clear();
        depth += t.matches('{').count();
        depth -= t.matches('}').count();
        if depth == 0 {
            item = None;
        }
    }
    keys
}

/// Whether `word` is a whole word of some `inline code` span of the page.
fn documented(doc: &str, word: &str) -> bool {
    doc.split('`').skip(1).step_by(2).any(|span| {
        span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|w| w == word)
    })
}

#[test]
fn every_key_of_the_catalog_format_is_documented() {
    let keys = format_keys();
    // The reader found the types it must (a parser that reads nothing would pass anything).
    for expected in [
        "IntegrationConfig.base_url",
        "RateLimitConfig.reset_at",
        "UnifiedMappingConfig.response_mapping",
        "FilterConfig.kind",
        "PaginationConfig variant field next_cursor",
        "PaginationConfig::LinkHeader",
        "AuthorizationConfig (tag)",
    ] {
        assert!(
            keys.iter().any(|(k, _)| k == expected),
            "not read from types.rs: {expected}"
        );
    }
    assert!(keys.iter().any(|(k, y)| k == "FilterConfig.kind" && y == "type"));
    assert!(keys
        .iter()
        .any(|(k, y)| k == "PaginationConfig::LinkHeader" && y == "link_header"));

    let doc = doc();
    let missing: Vec<String> = keys
        .iter()
        .filter(|(_, yaml)| !documented(&doc, yaml))
        .map(|(k, yaml)| format!("`{yaml}` ({k})"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/catalog.md does not document these keys of catalog/types.rs: {}",
        missing.join(", ")
    );
    assert!(!documented(&doc, "no_such_catalog_key"));
}
