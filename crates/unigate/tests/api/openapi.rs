//! `GET /openapi.json` and `unigate openapi`: the document is valid OpenAPI 3.1 for a real
//! validator (`openapi-spec-validator` from PyPI, in a venv under `target/`), and the
//! gateway's real answers match the schemas it declares for them.
//!
//! The validator needs python3 with `venv` and network access to PyPI the first time:
//! without them the validation test is skipped with a message, except under CI
//! (`CI=true`), where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{app_with_account, python_venv, spawn_app};

fn unigate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_unigate"))
}

fn cli_document(args: &[&str]) -> Value {
    let out = unigate().arg("openapi").args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The venv's directory, with `openapi-spec-validator` installed ([`python_venv`]).
fn validator_venv() -> Option<PathBuf> {
    python_venv(
        "openapi-venv",
        "openapi-spec-validator",
        "import openapi_spec_validator",
    )
}

/// Runs the validator on `doc`: whether it passed, and its output.
fn validate(venv: &Path, doc: &Value, name: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_vec(doc).unwrap()).unwrap();
    let out = Command::new(venv.join("bin/openapi-spec-validator"))
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn the_served_document_is_valid_openapi_3_1_and_the_same_as_the_cli_prints() {
    // Arrange
    let app = spawn_app().await;
    // Act: no token, as a client generator would fetch it.
    let served = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    let status = served.status();
    let served: Value = served.json().await.unwrap();
    let printed = cli_document(&[]);
    let github = cli_document(&["--integration", "github"]);

    // Assert: the same document both ways, and valid for the validator.
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served, printed);
    let Some(venv) = validator_venv() else { return };
    for (name, doc) in [("full", &served), ("github", &github)] {
        let (ok, text) = validate(&venv, doc, name);
        assert!(ok, "{name}: {text}");
    }
    // The validator does reject a broken document (so the pass above means something).
    let mut broken = served.clone();
    broken["paths"]["/unified/user-directory/users"]["get"]["responses"] = json!("none");
    let (ok, text) = validate(&venv, &broken, "broken");
    assert!(!ok, "a document with a string for responses passed: {text}");
}

#[test]
fn the_document_describes_each_unified_method_with_its_parameters_and_integrations() {
    // Act
    let doc = cli_document(&[]);

    // Assert
    let list = &doc["paths"]["/unified/user-directory/users"]["get"];
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in [
        "integrated_account_id",
        "truto_response_format",
        "remote_query",
        "limit",
        "next_cursor",
        "email",
        "created_at[gte]",
        "updated_at[lt]",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let account = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "integrated_account_id")
        .unwrap();
    assert_eq!(account["required"], true);
    let supporters = list["x-unigate-integrations"].as_array().unwrap();
    assert!(supporters.contains(&json!("okta")) && supporters.contains(&json!("github")));
    // An integration's own parameter is documented as such.
    let github_only = list["parameters"].as_array().unwrap().iter().find(|p| {
        p["x-unigate-integrations"]
            .as_array()
            .is_some_and(|i| i.contains(&json!("github")))
    });
    assert!(github_only.is_some_and(|p| p["description"].as_str().unwrap().starts_with("Integration-specific")));
    // A custom method, the admin API and the proxy API are there.
    assert!(doc["paths"]["/unified/user-directory/groups/add-user"]["post"].is_object());
    for path in [
        "/integrated-account",
        "/webhook/{id}",
        "/api-token",
        "/proxy/{resource}/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // A create's body needs no id (the provider assigns it); the answer has one.
    let mut body = doc["paths"]["/unified/user-directory/users"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]
        .clone();
    body["components"] = doc["components"].clone();
    let new_user = json!({ "first_name": "Ada", "emails": [{ "email": "ada@example.test" }] });
    assert!(jsonschema::options().build(&body).unwrap().is_valid(&new_user));
    let answer = declared(&doc, "/unified/user-directory/users", "post", "200");
    assert!(!jsonschema::options().build(&answer).unwrap().is_valid(&new_user));
}

#[test]
fn the_document_for_one_integration_keeps_only_what_it_supports() {
    // Act
    let okta = cli_document(&["--integration", "okta"]);
    let out = unigate()
        .args(["openapi", "--integration", "no-such-thing"])
        .output()
        .unwrap();

    // Assert: okta maps no organization update (github does), and every operation left names okta.
    assert!(okta["paths"]["/unified/user-directory/organizations/{id}"]["patch"].is_null());
    assert!(okta["paths"]["/unified/user-directory/users/{id}"]["get"].is_object());
    for (path, item) in okta["paths"].as_object().unwrap() {
        if !path.starts_with("/unified/") || path.contains("/meta/") {
            continue;
        }
        for (verb, op) in item.as_object().unwrap() {
            assert_eq!(op["x-unigate-integrations"], json!(["okta"]), "{verb} {path}");
        }
    }
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-thing"));
    // What okta cannot write, and which fields it fills, as the catalog says.
    let registry = unigate::catalog::load_registry(None).unwrap();
    let update = registry.integrations["okta"]
        .unified(
            "user-directory",
            "users",
            unigate::catalog::types::UnifiedMethod::Update,
        )
        .unwrap();
    assert!(!update.unsupported_fields.is_empty());
    assert_eq!(
        okta["paths"]["/unified/user-directory/users/{id}"]["patch"]["x-unigate-unsupported-fields"]["okta"],
        json!(update.unsupported_fields)
    );
    let coverage = unigate::catalog::coverage::Coverage::compute(&registry);
    let users = coverage.models[0].resources.iter().find(|r| r.name == "users").unwrap();
    let properties = &okta["components"]["schemas"]["UserDirectoryUsers"]["properties"];
    for field in users.fields.iter().filter(|f| !f.field.contains('.')) {
        let fills = field.integrations.iter().any(|i| i == "okta");
        let said = &properties[&field.field]["x-unigate-integrations"];
        assert_eq!(
            said,
            &json!(if fills { vec!["okta"] } else { vec![] }),
            "{}",
            field.field
        );
    }
}

/// The schema the document declares for `verb path` answering `status`, with the
/// document's components beside it so its `$ref`s resolve.
fn declared(doc: &Value, path: &str, verb: &str, status: &str) -> Value {
    let mut schema = doc["paths"][path][verb]["responses"][status]["content"]["application/json"]["schema"].clone();
    assert!(schema.is_object(), "no schema for {verb} {path} {status}");
    schema["components"] = doc["components"].clone();
    schema
}

fn assert_matches(doc: &Value, path: &str, verb: &str, status: &str, body: &Value) {
    let schema = declared(doc, path, verb, status);
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{verb} {path} {status}: {errors:?}\nbody: {body}");
}

#[tokio::test]
async fn real_answers_match_the_schemas_the_document_declares() {
    // Arrange
    let (app, okta) = app_with_account("okta").await;
    let github = app.connect("github").await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Act
    let users = app
        .get(&format!(
            "/unified/user-directory/users?integrated_account_id={okta}&limit=2"
        ))
        .await;
    let id = users.body["result"][0]["id"].as_str().unwrap().to_string();
    let user = app
        .get(&format!(
            "/unified/user-directory/users/{id}?integrated_account_id={okta}"
        ))
        .await;
    let missing = app
        .get(&format!(
            "/unified/user-directory/users/no-such-user?integrated_account_id={okta}"
        ))
        .await;
    let org = app.get(&app.orgs_path(&github, Some("octo-org"), "")).await;
    // A field the document says okta cannot write.
    let field = doc["paths"]["/unified/user-directory/users/{id}"]["patch"]["x-unigate-unsupported-fields"]["okta"][0]
        .as_str()
        .unwrap()
        .to_string();
    let refused = app
        .send(
            reqwest::Method::PATCH,
            &format!("/unified/user-directory/users/{id}?integrated_account_id={okta}"),
            Some(json!({ field.clone(): "inactive" })),
        )
        .await;

    // Assert
    assert_eq!(users.status, StatusCode::OK, "{}", users.text);
    assert_matches(&doc, "/unified/user-directory/users", "get", "200", &users.body);
    assert_eq!(user.status, StatusCode::OK, "{}", user.text);
    assert_matches(&doc, "/unified/user-directory/users/{id}", "get", "200", &user.body);
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    assert_matches(&doc, "/unified/user-directory/users/{id}", "get", "404", &missing.body);
    assert_eq!(org.status, StatusCode::OK, "{}", org.text);
    assert_matches(
        &doc,
        "/unified/user-directory/organizations/{id}",
        "get",
        "200",
        &org.body,
    );
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert!(refused.text.contains(&field), "{}", refused.text);
    assert_matches(
        &doc,
        "/unified/user-directory/users/{id}",
        "patch",
        "422",
        &refused.body,
    );
    // The schemas do say something: a user is not an error, nor a list.
    let not_error = std::panic::catch_unwind(|| {
        assert_matches(&doc, "/unified/user-directory/users/{id}", "get", "404", &user.body)
    });
    assert!(not_error.is_err());
    let not_list =
        std::panic::catch_unwind(|| assert_matches(&doc, "/unified/user-directory/users", "get", "200", &user.body));
    assert!(not_list.is_err());
}

async fn served(app: &crate::helpers::TestApp) -> Value {
    let r = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_served_document_follows_a_catalog_reload() {
    // Arrange: a provider whose organizations `get` is not mapped yet.
    use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with};
    let name = "openapiy";
    let rest = "resources:\n  organizations:\n    get: { method: get, path: \"/items/{{id}}\" }\n";
    let routes = "  - { method: GET, path: \"/items/{id}\", op: get, collection: items }\n";
    let p = custom_provider(
        name,
        &integration_yaml(name, "https://api.openapiy.example", rest),
        &emulator_yaml(2, routes),
    )
    .await;
    let app = spawn_with(&p, true, |c| c.catalog_watch_interval_ms = 0).await;
    let org = |doc: &Value| {
        doc["paths"]["/unified/user-directory/organizations/{id}"]["get"]["x-unigate-integrations"].clone()
    };
    let before = served(&app).await;

    // Act: map it and reload.
    std::fs::write(
        p.dir.path().join("integrations").join(name).join("user-directory.yaml"),
        "organizations:\n  get:\n    resource: organizations.get\n    response_mapping: '{ \"id\": response.id }'\n",
    )
    .unwrap();
    let r = app.send(reqwest::Method::POST, "/integration/reload", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = served(&app).await;

    // Assert
    assert!(!org(&before).as_array().unwrap().contains(&json!(name)));
    assert!(
        org(&after).as_array().unwrap().contains(&json!(name)),
        "{}",
        org(&after)
    );
}

#[tokio::test]
async fn every_list_an_account_offers_and_the_admin_lists_match_their_declared_schemas() {
    // Arrange
    let (app, okta) = app_with_account("okta").await;
    let doc = served(&app).await;
    // The unified lists okta maps that need no parameter of okta's own.
    let lists: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, item)| {
            let op = &item["get"];
            path.starts_with("/unified/")
                && !path.ends_with('}')
                && op["x-unigate-integrations"]
                    .as_array()
                    .is_some_and(|i| i.contains(&json!("okta")))
                && !op["parameters"].as_array().unwrap().iter().any(|p| {
                    p["description"].as_str().unwrap_or_default().contains("Required by")
                        && p["description"].as_str().unwrap_or_default().contains("okta")
                })
        })
        .map(|(path, _)| path.clone())
        .collect();
    assert!(lists.len() >= 3, "{lists:?}");

    for path in &lists {
        // Act
        let r = app.get(&format!("{path}?integrated_account_id={okta}")).await;
        // Assert
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert_matches(&doc, path, "get", "200", &r.body);
    }
    // The admin records are typed field by field: real answers match them.
    let one = app
        .get(&format!("/unified/user-directory/users?integrated_account_id={okta}"))
        .await;
    assert_eq!(one.status, StatusCode::OK);
    crate::request_log::entries(&app, &format!("integrated_account_id={okta}"), 1).await;
    let link = app
        .send(
            reqwest::Method::POST,
            "/link-token",
            Some(json!({"tenant_id": "acme-1", "integration": "okta"})),
        )
        .await;
    assert_eq!(link.status, 201, "{}", link.text);
    assert_matches(&doc, "/link-token", "post", "201", &link.body);
    let token = app
        .send(
            reqwest::Method::POST,
            "/api-token",
            Some(json!({"name": "ci", "scope": "api"})),
        )
        .await;
    assert!(token.status.is_success(), "{}", token.text);
    assert_matches(&doc, "/api-token", "post", "201", &token.body);
    let mcp = app
        .send(
            reqwest::Method::POST,
            &format!("/integrated-account/{okta}/mcp"),
            Some(json!({"name": "agent", "config": {"methods": ["read"]}})),
        )
        .await;
    assert!(mcp.status.is_success(), "{}", mcp.text);
    assert_matches(&doc, "/integrated-account/{id}/mcp", "post", "201", &mcp.body);
    for (path, key) in [
        ("/integrated-account".to_string(), "/integrated-account"),
        ("/webhook".to_string(), "/webhook"),
        ("/api-token".to_string(), "/api-token"),
        ("/environment".to_string(), "/environment"),
        ("/request-log".to_string(), "/request-log"),
        ("/log?log_type=unified_proxy_api".to_string(), "/log"),
        (
            "/environment-unified-model-resource-method".to_string(),
            "/environment-unified-model-resource-method",
        ),
        (
            format!("/integrated-account/{okta}/mcp"),
            "/integrated-account/{id}/mcp",
        ),
        (format!("/integrated-account/{okta}"), "/integrated-account/{id}"),
        ("/integration".to_string(), "/integration"),
        ("/integration/okta".to_string(), "/integration/{name}"),
        ("/unified-model".to_string(), "/unified-model"),
        ("/unified-model/user-directory".to_string(), "/unified-model/{name}"),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert!(r.text.len() > 20, "{path}: {}", r.text);
        assert_matches(&doc, key, "get", "200", &r.body);
    }
    // A typed schema can fail: an account without its id does not match.
    let mut broken = app.get(&format!("/integrated-account/{okta}")).await.body;
    broken.as_object_mut().unwrap().remove("id");
    let schema = declared(&doc, "/integrated-account/{id}", "get", "200");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap();
    assert!(!validator.is_valid(&broken));
    let r = app.get("/integrated-account/no-such-account").await;
    assert_matches(&doc, "/integrated-account/{id}", "get", "404", &r.body);
}

#[tokio::test]
async fn every_admin_and_proxy_operation_the_document_lists_is_routed() {
    // Arrange: the admin routes are listed by hand in the generator; this keeps the list
    // honest (a path or method the gateway does not route answers the fallback).
    let app = spawn_app().await;
    let doc = served(&app).await;
    let ops: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, item)| {
            item.as_object()
                .unwrap()
                .values()
                .all(|op| op["x-unigate-integrations"].is_null())
        })
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |verb| (path.clone(), verb.clone()))
        })
        .collect();
    assert!(ops.len() > 40, "{}", ops.len());

    for (path, verb) in &ops {
        // Act: every `{param}` an id that does not exist.
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "nope" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let method = reqwest::Method::from_bytes(verb.to_uppercase().as_bytes()).unwrap();
        let r = app.send(method, &concrete, None).await;

        // Assert
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{verb} {path}: {}", r.text);
        assert!(
            !(r.status == StatusCode::NOT_FOUND && r.body["message"] == "No such route."),
            "{verb} {path} is not routed"
        );
    }
}
