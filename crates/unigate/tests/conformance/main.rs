//! Spec conformance: every request Unigate sends to a provider is checked against that
//! provider's own OpenAPI document (operation, required parameters, query, credentials,
//! body schema), and the spec's response examples are run through the catalog's mappings.
//!
//! The specs are not in this repository: they are read at test time from `../shared/specs`
//! beside the checkout (or `PROVIDER_SPECS_DIR`). Where that folder is absent, as on a
//! user's machine, the test prints a warning banner naming the folder and what went
//! unchecked, and passes; in CI (`CI=true`, or `REQUIRE_PROVIDER_SPECS` set, as
//! scripts/test.sh does there) a missing folder is a failure instead.
#![allow(clippy::unwrap_used)]

mod csdl;
#[path = "../api/helpers.rs"]
mod helpers;
mod meta;
mod openapi;
mod rest;
mod users;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{json, Value};
use unigate::catalog::types::UnifiedMethod;
use unigate::catalog::Integration;
use unigate_emulator::RecordedRequest;

use helpers::{spawn_app, TestApp};
use openapi::{LoadError, Matched, Spec};

/// One provider: the catalog folder names it may have (the first that exists is used), and
/// its spec files, each with the path prefix of the provider's base URL that the spec's
/// `paths` leave to its server URL (`/api/v2` for Auth0, nothing for Mist, whose spec
/// paths start with `/api/v1`).
struct Entry {
    provider: &'static str,
    integrations: &'static [&'static str],
    specs: &'static [(&'static str, &'static str)],
    /// The name a unified update sends, when the provider's rules refuse [`UPDATE_NAME`].
    update_name: Option<&'static str>,
}

/// The name a unified update sends.
const UPDATE_NAME: &str = "Conformance Co";

const ENTRIES: &[Entry] = &[
    Entry {
        provider: "Auth0",
        integrations: &["auth0"],
        specs: &[("auth0-management-v2.json", "/api/v2")],
        update_name: None,
    },
    Entry {
        provider: "ClickUp",
        integrations: &["clickup"],
        specs: &[("clickup-v2.json", "/api")],
        update_name: None,
    },
    Entry {
        provider: "Elastic Cloud",
        integrations: &["elastic-cloud", "elastic"],
        specs: &[("elastic-cloud-user.json", "/api/v1")],
        update_name: None,
    },
    Entry {
        provider: "GitHub",
        integrations: &["github"],
        specs: &[("github-rest.json", "")],
        update_name: None,
    },
    // JumpCloud's organizations are in its v1 API and its other objects in v2: a request
    // must be an operation of one of them.
    Entry {
        provider: "JumpCloud",
        integrations: &["jumpcloud"],
        specs: &[("jumpcloud-v1.json", "/api"), ("jumpcloud-v2.json", "/api/v2")],
        update_name: None,
    },
    Entry {
        provider: "Juniper Mist",
        integrations: &["juniper-mist"],
        specs: &[("juniper-mist.json", "")],
        update_name: None,
    },
    Entry {
        provider: "Cisco Meraki",
        integrations: &["cisco-meraki", "meraki"],
        specs: &[("meraki-dashboard-v1.json", "/api/v1")],
        update_name: None,
    },
    Entry {
        provider: "Meta Marketing API",
        integrations: &["meta-marketing", "meta-marketing-api", "meta", "facebook"],
        specs: &[("meta-business-sdk-spec.json", "")],
        update_name: None,
    },
    Entry {
        provider: "MongoDB Atlas",
        integrations: &["mongodb-atlas", "mongodb-atlas-admin", "mongodb"],
        specs: &[("mongodb-atlas-v2.yaml", "")],
        // Atlas organization names allow no spaces (`^[\p{L}\p{N}\-_.(),:&@+']{1,64}$`).
        update_name: Some("Conformance-Co"),
    },
    Entry {
        provider: "Supabase",
        integrations: &["supabase"],
        specs: &[("supabase-management.json", "")],
        update_name: None,
    },
    Entry {
        provider: "Turso",
        integrations: &["turso"],
        specs: &[("turso-platform.json", "")],
        update_name: None,
    },
    Entry {
        provider: "Platform.sh",
        integrations: &["platform-sh", "platformsh", "upsun"],
        specs: &[("upsun-platformsh.json", "")],
        update_name: None,
    },
    Entry {
        provider: "Webex",
        integrations: &["webex"],
        specs: &[("webex-admin.json", "/v1")],
        update_name: None,
    },
];

const CATEGORY: &str = "user-directory";
const RESOURCE: &str = "organizations";

fn specs_dir() -> PathBuf {
    match std::env::var_os("PROVIDER_SPECS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs"),
    }
}

/// Summary lines go straight to stderr so they show without `--nocapture`.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "conformance: {line}");
}

/// Whether a run must fail when the specs are absent: in CI (`CI=true`, as CI services set
/// it) or when `REQUIRE_PROVIDER_SPECS` is set to anything. `var` reads the environment.
fn specs_required(var: impl Fn(&str) -> Option<String>) -> bool {
    var("CI").is_some_and(|v| v.eq_ignore_ascii_case("true")) || var("REQUIRE_PROVIDER_SPECS").is_some()
}

/// The warning printed when the specs folder is absent: which folder, and which checks
/// did not run.
fn missing_specs_banner(dir: &Path) -> String {
    let files: usize = ENTRIES.iter().map(|e| e.specs.len()).sum();
    let rule = "=".repeat(88);
    format!(
        "\n{rule}\n\
         WARNING: provider spec conformance was NOT checked.\n\
         No provider specs at {dir}.\n\
         Skipped: the conformance checks of all {providers} providers listed ({files} spec files):\n\
         no request Unigate sends, and no response example of a spec, was checked.\n\
         Put the specs there, or set PROVIDER_SPECS_DIR to their folder. In CI (CI=true or\n\
         REQUIRE_PROVIDER_SPECS set) a missing folder fails this test.\n\
         {rule}",
        dir = dir.display(),
        providers = ENTRIES.len(),
    )
}

/// `CONFORMANCE_VERBOSE=1` prints every request and mapped example checked.
fn verbose() -> bool {
    std::env::var_os("CONFORMANCE_VERBOSE").is_some()
}

/// What one provider's run found.
#[derive(Default)]
struct Outcome {
    requests: usize,
    examples: usize,
    failures: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_and_spec_example_conforms_to_the_providers_spec() {
    let dir = specs_dir();
    if !dir.is_dir() {
        let banner = missing_specs_banner(&dir);
        // Straight to stderr, as `say` does: a passing test's captured output is never shown.
        let _ = writeln!(std::io::stderr(), "{banner}");
        let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        assert!(!specs_required(env), "{banner}");
        return;
    }
    let app = spawn_app().await;

    let mut failed = Vec::new();
    for entry in ENTRIES {
        let Some(name) = entry
            .integrations
            .iter()
            .find(|n| app.state.registry().integration(n).is_some() && app.emulators.contains_key(**n))
        else {
            say(&format!(
                "{}: skipped: no integration folder yet (looked for {})",
                entry.provider,
                entry.integrations.join(", ")
            ));
            continue;
        };
        let mut specs = Vec::new();
        let mut skip = None;
        for (file, prefix) in entry.specs {
            match Spec::load(&dir.join(file), prefix) {
                Ok(s) => specs.push(s),
                Err(LoadError::NotOpenApi(reason)) => skip = Some(reason),
                Err(LoadError::Broken(e)) => {
                    failed.push(format!("{} ({name}): cannot read its spec: {e}", entry.provider))
                }
            }
        }
        if specs.is_empty() {
            if let Some(reason) = skip {
                say(&format!(
                    "{} ({name}): skipped here: {reason} (the users test reads Meta's SDK format: meta.rs)",
                    entry.provider
                ));
            }
            continue;
        }
        let outcome = check_provider(&app, name, &specs, entry.update_name.unwrap_or(UPDATE_NAME)).await;
        let files: Vec<&str> = specs.iter().map(|s| s.file.as_str()).collect();
        say(&format!(
            "{} ({name}): checked {} request(s) against {}, {} response example(s); {}",
            entry.provider,
            outcome.requests,
            files.join(" + "),
            outcome.examples,
            if outcome.failures.is_empty() {
                "conforms".to_string()
            } else {
                format!("{} problem(s)", outcome.failures.len())
            }
        ));
        for f in outcome.failures {
            failed.push(format!("{} ({name}): {f}", entry.provider));
        }
    }
    assert!(
        failed.is_empty(),
        "{} conformance problem(s):\n  - {}",
        failed.len(),
        failed.join("\n  - ")
    );
}

/// Drives the unified calls `name` supports and checks what reached the provider.
async fn check_provider(app: &TestApp, name: &str, specs: &[Spec], update_name: &str) -> Outcome {
    let mut outcome = Outcome::default();
    let integration = app.state.registry().integration(name).unwrap().clone();
    let emulator = app.emulator(name);
    let account = match connect(app, name).await {
        Ok(a) => a,
        Err(e) => {
            outcome.failures.push(e);
            return outcome;
        }
    };
    let methods = integration.unified_methods(CATEGORY, RESOURCE);

    // (unified call, what the provider received)
    let mut calls: Vec<(String, Vec<RecordedRequest>)> = Vec::new();
    let mut listed_id = None;
    if methods.contains(&UnifiedMethod::List) {
        emulator.clear_requests();
        // With a limit, so the provider's page-size parameter is checked too.
        let r = app.get(&app.orgs_path(&account, None, "&limit=2")).await;
        if r.status.is_success() {
            listed_id = r.body["result"][0]["id"].as_str().map(str::to_string);
        } else {
            outcome.failures.push(format!(
                "unified list answered {}: {}",
                r.status,
                openapi::truncate(&r.text, 300)
            ));
        }
        calls.push(("list".into(), emulator.requests()));
    }
    let id = listed_id.or_else(|| emulator_id(app, &integration, name));
    let mut get_requests = Vec::new();
    match &id {
        None if methods.contains(&UnifiedMethod::Get) || methods.contains(&UnifiedMethod::Update) => {
            outcome.failures.push(
                "found no organization id to get or update (neither list nor the emulator's records gave one)".into(),
            );
        }
        None => {}
        Some(id) => {
            if methods.contains(&UnifiedMethod::Get) {
                emulator.clear_requests();
                let r = app.get(&app.orgs_path(&account, Some(id), "")).await;
                if !r.status.is_success() {
                    outcome.failures.push(format!(
                        "unified get `{id}` answered {}: {}",
                        r.status,
                        openapi::truncate(&r.text, 300)
                    ));
                }
                get_requests = emulator.requests();
                calls.push((format!("get `{id}`"), get_requests.clone()));
            }
            if methods.contains(&UnifiedMethod::Update) {
                emulator.clear_requests();
                // A provider that cannot rename (the gateway refuses `name` with a 422)
                // still has its write request checked, with an empty unified change.
                let renames = integration
                    .unified(CATEGORY, RESOURCE, UnifiedMethod::Update)
                    .is_some_and(|m| !m.unsupported_fields.iter().any(|f| f == "name"));
                let change = if renames {
                    json!({ "name": update_name })
                } else {
                    json!({})
                };
                let r = app
                    .send(Method::PATCH, &app.orgs_path(&account, Some(id), ""), Some(change))
                    .await;
                if !r.status.is_success() {
                    outcome.failures.push(format!(
                        "unified update `{id}` answered {}: {}",
                        r.status,
                        openapi::truncate(&r.text, 300)
                    ));
                }
                calls.push((format!("update `{id}`"), emulator.requests()));
            }
        }
    }

    // Every request against the spec; the bare probe that draws an HTTP Digest challenge is
    // part of the scheme's handshake, checked only for being answered by the same request
    // with `Authorization: Digest`.
    for (call, requests) in &calls {
        for (i, req) in requests.iter().enumerate() {
            if is_digest_probe(req, requests.get(i + 1)) {
                if verbose() {
                    say(&format!("  {name} {call}: {}: digest challenge probe", describe(req)));
                }
                continue;
            }
            outcome.requests += 1;
            let what = describe(req);
            if verbose() {
                let op = find(specs, req)
                    .map(|m| m.describe())
                    .unwrap_or_else(|| "no operation".into());
                say(&format!("  {name} {call}: {what} -> {op}"));
            }
            match find(specs, req) {
                None => outcome
                    .failures
                    .push(format!("{call}: {what}: no such operation in the spec")),
                Some(m) => {
                    for problem in m.spec.check(m.op, req) {
                        outcome
                            .failures
                            .push(format!("{call}: {what} ({}): {problem}", m.describe()));
                    }
                }
            }
        }
    }

    // The get operation's own examples through the catalog's selection and mapping.
    if let (Some(mapping), Some(req)) = (
        integration.unified(CATEGORY, RESOURCE, UnifiedMethod::Get),
        get_requests.last(),
    ) {
        if let Some(m) = find(specs, req) {
            let examples = m.spec.response_examples(m.op);
            if examples.is_empty() {
                outcome.failures.push(format!(
                    "get: {} has no JSON 2xx response example or schema",
                    m.describe()
                ));
            }
            for (label, example) in examples {
                outcome.examples += 1;
                let problems = map_example(mapping, id.as_deref().unwrap_or_default(), &example);
                for p in problems {
                    outcome
                        .failures
                        .push(format!("get: {} response {label}: {p}", m.describe()));
                }
            }
        }
    }
    outcome
}

fn find<'a>(specs: &'a [Spec], req: &RecordedRequest) -> Option<Matched<'a>> {
    specs
        .iter()
        .find_map(|spec| spec.find(req).map(|op| Matched { spec, op }))
}

fn describe(req: &RecordedRequest) -> String {
    if req.query.is_empty() {
        format!("{} {}", req.method, req.path)
    } else {
        format!("{} {}?{}", req.method, req.path, req.query)
    }
}

/// Imports an account with the emulator's credentials (required context values it does
/// not name set to `acme`), as `TestApp::connect` does, but reporting instead of panicking.
/// A request without credentials followed by the same request answering a Digest challenge.
pub(crate) fn is_digest_probe(req: &RecordedRequest, next: Option<&RecordedRequest>) -> bool {
    req.header("authorization").is_none()
        && next.is_some_and(|n| {
            (&n.method, &n.path, &n.query, &n.body) == (&req.method, &req.path, &req.query, &req.body)
                && n.header("authorization").is_some_and(|a| a.starts_with("Digest "))
        })
}

async fn connect(app: &TestApp, name: &str) -> Result<String, String> {
    let mut context = app.sandbox_context(name, json!({}));
    let registry = app.state.registry();
    let def = registry.integration(name).unwrap();
    for f in &def.config.credentials.fields {
        if f.required && !context.contains_key(&f.name) {
            context.insert(f.name.clone(), json!("acme"));
        }
    }
    let r = app
        .send(
            Method::POST,
            "/integrated-account",
            Some(json!({ "tenant_id": "conformance", "integration_name": name, "context": context })),
        )
        .await;
    match r.body["id"].as_str() {
        Some(id) if r.status.is_success() => Ok(id.to_string()),
        _ => Err(format!("importing an account answered {}: {}", r.status, r.text)),
    }
}

/// The unified id of the first emulator record that the get mapping maps to one.
fn emulator_id(app: &TestApp, integration: &Integration, name: &str) -> Option<String> {
    let mapping = integration.unified(CATEGORY, RESOURCE, UnifiedMethod::Get)?;
    let expr = mapping.response_mapping.as_ref()?;
    let emulator = app.emulator(name);
    emulator
        .collections()
        .iter()
        .flat_map(|c| emulator.records(c))
        .find_map(|record| {
            let out = expr
                .eval(&json!({ "response": record, "before": {}, "context": {} }))
                .ok()??;
            out["id"].as_str().map(str::to_string)
        })
}

/// Selects the record in a spec example as the gateway does (`response_path`, given an id
/// that selects something: ours, or one found in the example) and maps it; the problems
/// with the unified record.
fn map_example(mapping: &unigate::catalog::UnifiedMapping, our_id: &str, example: &Value) -> Vec<String> {
    let resource = &mapping.resource;
    let (id, record) = match &resource.response_path {
        None => (our_id.to_string(), example.clone()),
        Some(path) => {
            let mut candidates = vec![our_id.to_string()];
            scalars(example, 0, &mut candidates);
            let selected = candidates.iter().find_map(|id| {
                let input = json!({ "response": example, "headers": {}, "id": id });
                match path.eval(&input) {
                    Ok(Some(v)) if !v.is_null() => Some((id.clone(), v)),
                    _ => None,
                }
            });
            match selected {
                Some(s) => s,
                None => {
                    return vec![format!(
                        "`{}` selects nothing from the example {}",
                        path.source(),
                        openapi::truncate(&example.to_string(), 200)
                    )]
                }
            }
        }
    };
    let Some(expr) = &mapping.response_mapping else {
        return Vec::new();
    };
    let input = json!({
        "response": record, "headers": {}, "query": {}, "body": {}, "context": {}, "id": id, "before": {}
    });
    let mapped = match expr.eval(&input) {
        Ok(Some(v)) => {
            if verbose() {
                say(&format!("  mapped example: {v}"));
            }
            v
        }
        Ok(None) => return vec!["the mapping gives nothing".into()],
        Err(e) => return vec![format!("the mapping fails: {e}")],
    };
    unified_problems(&mapped)
}

/// What is wrong with one unified organization.
fn unified_problems(mapped: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    match mapped.get("id") {
        Some(Value::String(s)) if !s.is_empty() => {}
        other => problems.push(format!("`id` must be a non-empty string, got {other:?} in {mapped}")),
    }
    for field in ["name", "pricing_plan"] {
        match mapped.get(field) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => problems.push(format!("`{field}` must be a string, got {other}")),
        }
    }
    for field in ["created_at", "updated_at"] {
        match mapped.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {}
            Some(other) => problems.push(format!("`{field}` must be an RFC 3339 date-time, got {other}")),
        }
    }
    match mapped.get("licenses") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for l in items {
                if !l.is_object() || l.get("id").is_some_and(|i| !i.is_string()) {
                    problems.push(format!("`licenses` items must be objects with a string `id`, got {l}"));
                }
            }
        }
        Some(other) => problems.push(format!("`licenses` must be an array, got {other}")),
    }
    problems
}

/// Scalar values in an example (to depth 4), as candidate ids for a `response_path` that
/// picks a record by id.
fn scalars(v: &Value, depth: usize, out: &mut Vec<String>) {
    // Deep enough for ids inside lists of lists (ClickUp's `teams[].members[].user.id`).
    if depth > 8 {
        return;
    }
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|x| scalars(x, depth + 1, out)),
        Value::Object(m) => m.values().for_each(|x| scalars(x, depth + 1, out)),
        _ => {}
    }
}

#[test]
fn missing_specs_fail_in_ci_or_when_required_and_are_skipped_elsewhere() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    };
    assert!(!specs_required(env(&[])), "a developer's machine skips");
    assert!(!specs_required(env(&[("CI", "false")])));
    assert!(specs_required(env(&[("CI", "true")])));
    assert!(specs_required(env(&[("REQUIRE_PROVIDER_SPECS", "1")])));
    assert!(specs_required(env(&[("REQUIRE_PROVIDER_SPECS", "")])), "set is enough");
}

#[test]
fn the_missing_specs_banner_names_the_folder_and_what_was_skipped() {
    let banner = missing_specs_banner(Path::new("/nowhere/shared/specs"));
    assert!(banner.contains("WARNING"), "{banner}");
    assert!(banner.contains("/nowhere/shared/specs"), "{banner}");
    let files: usize = ENTRIES.iter().map(|e| e.specs.len()).sum();
    assert!(
        banner.contains(&format!("all {} providers listed ({files} spec files)", ENTRIES.len())),
        "{banner}"
    );
}

#[test]
fn a_unified_record_with_a_bad_date_or_id_is_reported() {
    let problems = unified_problems(&json!({ "id": "", "created_at": "2024-13-01", "name": 3 }));
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(unified_problems(&json!({ "id": "a", "updated_at": "2024-01-02T03:04:05Z" })).is_empty());
}

/// The checker itself, on a small spec: each kind of mismatch is found.
#[test]
fn the_checker_reports_each_kind_of_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.json");
    let doc = json!({
        "openapi": "3.0.3",
        "components": {
            "securitySchemes": { "key": { "type": "apiKey", "in": "header", "name": "X-Api-Key" } },
            "schemas": { "Org": { "type": "object", "required": ["name"], "additionalProperties": false,
                "properties": { "name": { "type": "string", "maxLength": 5 } } } }
        },
        "security": [{ "key": [] }],
        "paths": { "/orgs/{id}": {
            "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
            "get": { "parameters": [{ "name": "X-Version", "in": "header", "required": true, "schema": { "type": "string" } }],
                     "responses": { "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Org" } } } } } },
            "put": { "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Org" } } } },
                     "responses": { "200": { "description": "ok" } } }
        } }
    });
    std::fs::write(&file, doc.to_string()).unwrap();
    let spec = Spec::load(&file, "/api").unwrap();
    let request = recorded;

    assert!(spec.find(&request("DELETE", "/api/orgs/1", "", &[], None)).is_none());
    let good = request(
        "GET",
        "/api/orgs/1",
        "",
        &[("x-api-key", "k"), ("x-version", "1")],
        None,
    );
    let op = spec.find(&good).unwrap();
    assert!(spec.check(op, &good).is_empty(), "{:?}", spec.check(op, &good));

    let bad = request("GET", "/api/orgs/abc", "per_page=2", &[], None);
    let problems = spec.check(spec.find(&bad).unwrap(), &bad).join("\n");
    for expected in [
        "`per_page` is not declared",
        "`X-Version` is missing",
        "`id=abc`",
        "security requirements",
    ] {
        assert!(problems.contains(expected), "{expected} not in:\n{problems}");
    }

    let put = |body: Value| {
        request(
            "PUT",
            "/api/orgs/1",
            "",
            &[("x-api-key", "k"), ("content-type", "application/json")],
            Some(body),
        )
    };
    let long = put(json!({ "name": "Too long a name", "extra": 1 }));
    let problems = spec.check(spec.find(&long).unwrap(), &long).join("\n");
    assert!(problems.contains("/name"), "{problems}");
    assert!(problems.contains("extra"), "{problems}");
    let missing = request("PUT", "/api/orgs/1", "", &[("x-api-key", "k")], None);
    assert!(spec.check(spec.find(&missing).unwrap(), &missing)[0].contains("requires a body"));

    let examples = spec.response_examples(spec.find(&good).unwrap());
    assert_eq!(examples.len(), 1);
    assert_eq!(examples[0].1, json!({ "name": "string" }));
}

/// A request as the emulator records it, for the readers' own unit tests.
fn recorded(method: &str, path: &str, query: &str, headers: &[(&str, &str)], body: Option<Value>) -> RecordedRequest {
    RecordedRequest {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: body.as_ref().map(|b| b.to_string().into()).unwrap_or_default(),
        json: body,
        received_at: chrono::Utc::now(),
    }
}
