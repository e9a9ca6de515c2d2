//! Spec conformance of the User Directory users calls (and the organizations calls, and
//! the groups and membership calls where [`GROUPS`] names the integration, and the other
//! User Directory resources [`LISTS`] names, of the same providers): each unified method a
//! provider maps is driven against its
//! emulator, and every request that reached the provider is checked against the
//! provider's own specification; the users `get` operation's response examples go through
//! the catalog's mapping. OpenAPI files go through [`crate::openapi`]; Google's discovery
//! document through [`Discovery`] (method, path, query parameters and their enums,
//! required parameters, request body properties).
//!
//! OAuth token requests (a form body with `grant_type`) go to the authorization server,
//! not to the API the spec describes, and are left out.

use std::path::Path;

use reqwest::Method;
use serde_json::{json, Value};
use unigate::catalog::types::UnifiedMethod;
use unigate_emulator::RecordedRequest;

use crate::helpers::{spawn_app, TestApp};
use crate::openapi::{self, LoadError, Spec};
use crate::{describe, say, specs_dir, verbose};

struct UsersEntry {
    provider: &'static str,
    integration: &'static str,
    spec: &'static str,
    /// Path prefix of the base URL the spec's paths leave out.
    prefix: &'static str,
    /// A unified user to create (the provider's required fields).
    create: fn() -> Value,
    /// A unified change the provider can write.
    update: fn() -> Value,
    /// Check with [`LightOpenApi`] instead of [`Spec`]: Microsoft Graph's schemas (every
    /// entity with its navigation properties) are too large to inline whole.
    light: bool,
    /// Further spec files (and their prefixes) a request may be an operation of, tried in
    /// order after `spec`: JumpCloud's groups are in its v2 API, its users in v1; Graph's
    /// official CSDL has the paths the derived OpenAPI file leaves out.
    also: &'static [(&'static str, &'static str)],
    /// Calls not driven, each for a reason written beside the entry.
    skip: &'static [&'static str],
}

const USERS: &[UsersEntry] = &[
    UsersEntry {
        provider: "Auth0",
        integration: "auth0",
        spec: "auth0-management-v2.json",
        prefix: "/api/v2",
        create: || {
            json!({"first_name": "Conformance", "last_name": "Check", "username": "conformance",
                   "emails": [{"email": "conformance.check@example.com", "is_primary": true}],
                   "password": "Conf0rmance!Check"})
        },
        update: || json!({"last_name": "Checked"}),
        light: false,
        also: &[],
        skip: &[],
    },
    UsersEntry {
        provider: "Okta",
        integration: "okta",
        spec: "okta-management.yaml",
        prefix: "",
        create: || {
            json!({"first_name": "Conformance", "last_name": "Check",
                   "emails": [{"email": "conformance.check@example.com", "is_primary": true}],
                   "phones": [{"number": "+1 555 0199", "type": "mobile"}], "password": "Conf0rmance!Check"})
        },
        update: || json!({"title": "Conformance Analyst"}),
        light: false,
        also: &[],
        skip: &[],
    },
    UsersEntry {
        provider: "Microsoft Entra ID",
        integration: "microsoft-entra-id",
        spec: "msgraph-v1-directory.yaml",
        prefix: "/v1.0",
        create: || {
            json!({"first_name": "Conformance", "last_name": "Check", "username": "ConformanceC@contoso.com",
                   "emails": [{"email": "ConformanceC@contoso.com", "is_primary": true}],
                   "password": "Conf0rmance!Check"})
        },
        update: || json!({"title": "Conformance Analyst"}),
        light: true,
        // The official CSDL, for the paths the derived file has not (roles, SKUs, audits).
        also: &[("msgraph-v1-metadata.csdl.xml", "/v1.0")],
        skip: &[],
    },
    UsersEntry {
        provider: "Google Workspace",
        integration: "google-workspace",
        spec: "google-admin-directory-v1.json",
        prefix: "",
        create: || {
            json!({"first_name": "Conformance", "last_name": "Check",
                   "emails": [{"email": "conformance.check@example.com", "is_primary": true}],
                   "password": "Conf0rmance!Check"})
        },
        update: || json!({"title": "Conformance Analyst"}),
        light: false,
        also: &[],
        skip: &[],
    },
    UsersEntry {
        provider: "JumpCloud",
        integration: "jumpcloud",
        spec: "jumpcloud-v1.json",
        prefix: "/api",
        create: || {
            json!({"first_name": "Conformance", "last_name": "Check", "username": "conformance.check",
                   "emails": [{"email": "conformance.check@example.com", "is_primary": true}],
                   "phones": [{"number": "+1 555 0199", "type": "mobile"}], "password": "Conf0rmance!Check"})
        },
        update: || json!({"title": "Conformance Analyst", "status": "inactive"}),
        light: false,
        also: &[("jumpcloud-v2.json", "/api/v2")],
        skip: &[],
    },
    UsersEntry {
        provider: "Webex",
        integration: "webex",
        spec: "webex-admin.json",
        prefix: "/v1",
        create: || {
            json!({"first_name": "Conformance", "last_name": "Check",
                   "emails": [{"email": "conformance.check@example.com", "is_primary": true}],
                   "phones": [{"number": "+1 555 0199", "type": "mobile"}]})
        },
        update: || json!({"title": "Conformance Analyst", "status": "inactive"}),
        light: false,
        also: &[],
        skip: &[],
    },
    UsersEntry {
        provider: "GitHub",
        integration: "github",
        spec: "github-rest.json",
        prefix: "",
        create: || json!({"emails": [{"email": "conformance.check@example.com", "is_primary": true}]}),
        update: || json!({"roles": [{"id": "admin"}]}),
        light: false,
        also: &[],
        // A create is an invitation; its id is not a member's until the person accepts.
        skip: &["delete"],
    },
    UsersEntry {
        provider: "ClickUp",
        integration: "clickup",
        spec: "clickup-v2.json",
        prefix: "/api",
        create: || json!({"emails": [{"email": "conformance.check@example.com", "is_primary": true}]}),
        // ClickUp's edit requires `custom_role_id` beside `username` and `admin`.
        update: || json!({"roles": [{"id": "998877"}]}),
        light: false,
        also: &[],
        skip: &[],
    },
    UsersEntry {
        provider: "Elastic Cloud",
        integration: "elastic-cloud",
        spec: "elastic-cloud-user.json",
        prefix: "/api/v1",
        create: || json!({"emails": [{"email": "conformance.check@example.com", "is_primary": true}]}),
        update: || json!({"roles": [{"id": "billing-admin"}, {"id": "deployment-viewer"}]}),
        light: false,
        also: &[],
        // A create is an invitation (its id is the invitation token, not a member's).
        skip: &["delete"],
    },
    UsersEntry {
        provider: "MongoDB Atlas",
        integration: "mongodb-atlas",
        spec: "mongodb-atlas-v2.yaml",
        prefix: "",
        create: || {
            json!({"emails": [{"email": "conformance.check@example.com", "is_primary": true}],
                   "roles": [{"id": "ORG_MEMBER"}]})
        },
        update: || json!({"roles": [{"id": "ORG_BILLING_ADMIN"}]}),
        light: false,
        also: &[],
        skip: &[],
    },
    UsersEntry {
        provider: "Supabase",
        integration: "supabase",
        spec: "supabase-management.json",
        prefix: "",
        create: || json!({}),
        update: || json!({}),
        light: false,
        also: &[],
        skip: &[],
    },
    UsersEntry {
        provider: "Turso",
        integration: "turso",
        spec: "turso-platform.json",
        prefix: "",
        create: || json!({"username": "conformance", "roles": [{"name": "member"}]}),
        update: || json!({"roles": [{"name": "admin"}]}),
        light: false,
        also: &[],
        // turso-platform.json's add-member body declares `username` and `role` but requires
        // `email`, which it does not declare: a defect of the spec, not of the request.
        skip: &["create"],
    },
    UsersEntry {
        provider: "Cisco Meraki",
        integration: "cisco-meraki",
        spec: "meraki-dashboard-v1.json",
        prefix: "/api/v1",
        create: || {
            json!({"name": "Conformance Check", "emails": [{"email": "conformance.check@example.com", "is_primary": true}],
                   "roles": [{"id": "read-only"}]})
        },
        update: || json!({"roles": [{"id": "full"}]}),
        light: false,
        also: &[],
        skip: &[],
    },
    UsersEntry {
        provider: "Juniper Mist",
        integration: "juniper-mist",
        spec: "juniper-mist.json",
        prefix: "",
        create: || {
            json!({"first_name": "Conformance", "last_name": "Check",
                   "emails": [{"email": "conformance.check@example.com", "is_primary": true}],
                   "roles": [{"id": "read"}]})
        },
        update: || json!({"roles": [{"id": "admin"}]}),
        light: false,
        also: &[],
        // An invite's id is the invitation's, not an admin's.
        skip: &["delete"],
    },
    UsersEntry {
        provider: "Meta Marketing API",
        integration: "meta-marketing",
        spec: "meta-business-sdk-spec.json",
        prefix: "/v21.0",
        create: || {
            json!({"emails": [{"email": "conformance.check@example.com", "is_primary": true}],
                   "roles": [{"name": "EMPLOYEE"}]})
        },
        update: || json!({"title": "Conformance Analyst"}),
        light: false,
        also: &[],
        skip: &[],
    },
    UsersEntry {
        provider: "Platform.sh",
        integration: "platform-sh",
        spec: "upsun-platformsh.json",
        prefix: "",
        create: || json!({"emails": [{"email": "conformance.check@example.com", "is_primary": true}], "roles": [{"id": "billing"}]}),
        update: || json!({"roles": [{"id": "members"}]}),
        light: false,
        also: &[],
        // A create is an invitation (its id is the invitation's).
        skip: &["delete"],
    },
];

/// A spec of either kind.
enum AnySpec {
    OpenApi(Spec),
    Light(LightOpenApi),
    Discovery(Discovery),
    Meta(crate::meta::MetaSdk),
    Csdl(crate::csdl::Csdl),
}

impl AnySpec {
    fn load(path: &Path, prefix: &str, light: bool) -> Result<AnySpec, String> {
        if path.extension().is_some_and(|e| e == "xml") {
            return crate::csdl::Csdl::load(path, prefix).map(AnySpec::Csdl);
        }
        if light {
            return LightOpenApi::load(path, prefix).map(AnySpec::Light);
        }
        match Spec::load(path, prefix) {
            Ok(s) => Ok(AnySpec::OpenApi(s)),
            Err(LoadError::NotOpenApi(reason)) => Discovery::load(path).map(AnySpec::Discovery).or_else(|e| {
                crate::meta::MetaSdk::load(path, prefix)
                    .map(AnySpec::Meta)
                    .map_err(|m| format!("{reason}; {e}; {m}"))
            }),
            Err(LoadError::Broken(e)) => Err(e),
        }
    }

    /// The operation's name and the problems of `req`, or `None` when no operation has it.
    fn check(&self, req: &RecordedRequest) -> Option<(String, Vec<String>)> {
        match self {
            AnySpec::OpenApi(spec) => {
                let op = spec.find(req)?;
                let m = openapi::Matched { spec, op };
                Some((m.describe(), spec.check(op, req)))
            }
            AnySpec::Light(l) => l.check(req),
            AnySpec::Discovery(d) => d.check(req),
            AnySpec::Meta(m) => m.check(req),
            AnySpec::Csdl(c) => c.check(req),
        }
    }

    fn get_examples(&self, req: &RecordedRequest) -> Vec<(String, Value)> {
        match self {
            AnySpec::OpenApi(spec) => spec.find(req).map(|op| spec.response_examples(op)).unwrap_or_default(),
            AnySpec::Light(_) | AnySpec::Discovery(_) | AnySpec::Meta(_) | AnySpec::Csdl(_) => Vec::new(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_users_request_conforms_to_the_providers_spec() {
    let dir = specs_dir();
    if !dir.is_dir() {
        let line = format!("users: skipped: no provider specs at {}", dir.display());
        say(&line);
        assert!(std::env::var_os("REQUIRE_PROVIDER_SPECS").is_none(), "{line}");
        return;
    }
    let app = spawn_app().await;
    let mut failed = Vec::new();
    for entry in USERS {
        if app.state.registry().integration(entry.integration).is_none() {
            say(&format!("users: {}: skipped: no integration folder", entry.provider));
            continue;
        }
        let mut specs = Vec::new();
        let files = std::iter::once((entry.spec, entry.prefix)).chain(entry.also.iter().copied());
        for (file, prefix) in files {
            match AnySpec::load(&dir.join(file), prefix, entry.light) {
                Ok(s) => specs.push(s),
                Err(e) => failed.push(format!("{}: cannot read its spec {file}: {e}", entry.provider)),
            }
        }
        if specs.len() != 1 + entry.also.len() {
            continue;
        }
        let spec = &specs[0];
        // `main.rs` checks the organizations update of its OpenAPI providers.
        let main_checks = matches!(specs[0], AnySpec::OpenApi(_));
        let (requests, mut problems, got) = drive(&app, entry, main_checks).await;
        let mut checked = 0;
        let mut examples = 0;
        for (i, (call, req)) in requests.iter().enumerate() {
            // The bare probe that draws an HTTP Digest challenge carries no credentials.
            if is_token_request(req) || crate::is_digest_probe(req, requests.get(i + 1).map(|(_, r)| r)) {
                continue;
            }
            // Calls driven for the emulator's sake but not described by the spec.
            if crate::rest::skipped(entry.integration, &crate::rest::call_key(call)) {
                continue;
            }
            checked += 1;
            match specs.iter().find_map(|s| s.check(req)) {
                None => problems.push(format!("{call}: {}: no such operation in the spec", describe(req))),
                Some((op, found)) => {
                    if verbose() {
                        say(&format!("  {} {call}: {} -> {op}", entry.integration, describe(req)));
                    }
                    problems.extend(
                        found
                            .into_iter()
                            .map(|p| format!("{call}: {} ({op}): {p}", describe(req))),
                    );
                }
            }
        }
        let registry = app.state.registry();
        let integration = registry.integration(entry.integration).unwrap();
        if let (Some(mapping), Some((_, get))) = (
            integration.unified("user-directory", "users", UnifiedMethod::Get),
            requests.iter().find(|(call, r)| call == "get" && !is_token_request(r)),
        ) {
            for (label, example) in spec.get_examples(get) {
                examples += 1;
                for p in crate::map_example(mapping, "00ub0oNGTSWTBKOLGLNR", &example) {
                    problems.push(format!("users get response {label}: {p}"));
                }
            }
        }
        // The other resources' get operations: their examples through the get mapping.
        for resource in ["groups", "roles", "role_assignments", "licenses", "workspaces"] {
            let call = format!("{resource} get");
            if EXAMPLES_UNMAPPED
                .iter()
                .any(|(i, c)| *i == entry.integration && *c == call)
            {
                continue;
            }
            let (Some(mapping), Some((_, get))) = (
                integration.unified("user-directory", resource, UnifiedMethod::Get),
                requests
                    .iter()
                    .rev()
                    .find(|(c, r)| *c == call && r.method == "GET" && !is_token_request(r)),
            ) else {
                continue;
            };
            let found = specs.iter().map(|s| s.get_examples(get)).find(|e| !e.is_empty());
            for (label, example) in found.unwrap_or_default() {
                examples += 1;
                let id = got.get(&call).map(String::as_str).unwrap_or_default();
                for p in crate::map_example(mapping, id, &example) {
                    problems.push(format!("{call} response {label}: {p}"));
                }
            }
        }
        say(&format!(
            "users: {} ({}): checked {checked} request(s) against {}, {examples} response example(s), \
             {} call(s) left unchecked (rest::SKIPS); {}",
            entry.provider,
            entry.integration,
            std::iter::once(entry.spec)
                .chain(entry.also.iter().map(|(f, _)| *f))
                .collect::<Vec<_>>()
                .join(" + "),
            crate::rest::SKIPS
                .iter()
                .filter(|(i, _, _)| *i == entry.integration)
                .count(),
            if problems.is_empty() {
                "conforms".to_string()
            } else {
                format!("{} problem(s)", problems.len())
            }
        ));
        failed.extend(
            problems
                .into_iter()
                .map(|p| format!("{} ({}): {p}", entry.provider, entry.integration)),
        );
    }
    assert!(
        failed.is_empty(),
        "{} users conformance problem(s):\n  - {}",
        failed.len(),
        failed.join("\n  - ")
    );
}

/// Runs every users method the integration maps (and its organizations list and get);
/// the requests each reached the provider with, and the unified calls that failed.
async fn drive(
    app: &TestApp,
    entry: &UsersEntry,
    main_checks: bool,
) -> (
    Vec<(String, RecordedRequest)>,
    Vec<String>,
    std::collections::HashMap<String, String>,
) {
    let name = entry.integration;
    let emulator = app.emulator(name);
    let account = app.connect(name).await;
    let users = |id: Option<&str>, extra: &str| match id {
        Some(id) => format!("/unified/user-directory/users/{id}?integrated_account_id={account}{extra}"),
        None => format!("/unified/user-directory/users?integrated_account_id={account}{extra}"),
    };
    // Only the methods the integration maps, each with its required parameters (the
    // `example` each declares: the emulator's data).
    let integration = app.state.registry().integration(name).unwrap().clone();
    let params = |method: UnifiedMethod| -> Option<String> {
        integration
            .unified("user-directory", "users", method)
            .map(|m| m.required_query_example())
    };
    let mut out = Vec::new();
    let mut problems = Vec::new();
    // The calls driven, as `resource method` (for the completeness check of `rest`).
    let driven = std::cell::RefCell::new(std::collections::BTreeSet::new());
    // The unified id each get answered with, by call.
    let got = std::cell::RefCell::new(std::collections::HashMap::new());
    let mut run = |call: &str, r: crate::helpers::Reply, out: &mut Vec<(String, RecordedRequest)>| {
        driven.borrow_mut().insert(crate::rest::call_key(call));
        if let Some(id) = r.body["id"].as_str().filter(|_| call.ends_with(" get")) {
            got.borrow_mut().insert(call.to_string(), id.to_string());
        }
        if !r.status.is_success() {
            problems.push(format!(
                "unified {call} answered {}: {}",
                r.status,
                openapi::truncate(&r.text, 300)
            ));
        }
        out.extend(emulator.requests().into_iter().map(|q| (call.to_string(), q)));
        emulator.clear_requests();
        r
    };
    emulator.clear_requests();
    let list_params = params(UnifiedMethod::List).unwrap_or_default();
    let listed = run(
        "list",
        app.get(&users(None, &format!("&limit=2{list_params}"))).await,
        &mut out,
    );
    let id = listed.body["result"][0]["id"].as_str().unwrap_or_default().to_string();
    if let Some(extra) = params(UnifiedMethod::Get) {
        run("get", app.get(&users(Some(&id), &extra)).await, &mut out);
    }
    if let Some(extra) = params(UnifiedMethod::Update) {
        run(
            "update",
            app.send(Method::PATCH, &users(Some(&id), &extra), Some((entry.update)()))
                .await,
            &mut out,
        );
    }
    if let Some(extra) = params(UnifiedMethod::Create).filter(|_| !entry.skip.contains(&"create")) {
        let created = run(
            "create",
            app.send(Method::POST, &users(None, &extra), Some((entry.create)()))
                .await,
            &mut out,
        );
        let delete = params(UnifiedMethod::Delete).filter(|_| !entry.skip.contains(&"delete"));
        if let (Some(new_id), Some(extra)) = (created.body["id"].as_str(), delete) {
            run(
                "delete",
                app.send(Method::DELETE, &users(Some(new_id), &extra), None).await,
                &mut out,
            );
        }
    }
    let orgs = run(
        "organizations list",
        app.get(&app.orgs_path(&account, None, "")).await,
        &mut out,
    );
    if let Some(org) = orgs.body["result"][0]["id"].as_str() {
        run(
            "organizations get",
            app.get(&app.orgs_path(&account, Some(org), "")).await,
            &mut out,
        );
    }
    // Groups and membership, where the integration maps them: the first group and the
    // first user listed.
    if let Some(groups_entry) = GROUPS.iter().find(|g| g.integration == name) {
        let drives = |call: &str| !groups_entry.skip.contains(&call);
        let path = |resource: &str, id: Option<&str>, extra: &str| {
            let id = id.map(|i| format!("/{i}")).unwrap_or_default();
            let scope = groups_entry.query;
            format!("/unified/user-directory/{resource}{id}?integrated_account_id={account}{scope}{extra}")
        };
        let groups = run(
            "groups list",
            app.get(&path("groups", None, "&limit=2")).await,
            &mut out,
        );
        let group = groups.body["result"][0]["id"].as_str().unwrap_or_default().to_string();
        run("groups get", app.get(&path("groups", Some(&group), "")).await, &mut out);
        if drives("users list with group_id") {
            run(
                "users list with group_id",
                app.get(&path("users", None, &format!("&group_id={group}"))).await,
                &mut out,
            );
        }
        let membership = json!({"group_id": group, "user_id": id});
        for call in ["add-user", "remove-user"] {
            if drives(&format!("groups {call}")) {
                let url = path(&format!("groups/{call}"), None, "");
                run(
                    &format!("groups {call}"),
                    app.send(Method::POST, &url, Some(membership.clone())).await,
                    &mut out,
                );
            }
        }
        let created = run(
            "groups create",
            app.send(Method::POST, &path("groups", None, ""), Some((groups_entry.create)()))
                .await,
            &mut out,
        );
        if let Some(new_id) = created.body["id"].as_str() {
            if drives("groups update") {
                run(
                    "groups update",
                    app.send(
                        Method::PATCH,
                        &path("groups", Some(new_id), ""),
                        Some(json!({"description": "Checked"})),
                    )
                    .await,
                    &mut out,
                );
            }
            run(
                "groups delete",
                app.send(Method::DELETE, &path("groups", Some(new_id), ""), None).await,
                &mut out,
            );
        }
    }
    // Other User Directory lists, where [`LISTS`] names the integration: each list with its
    // required parameters and the entry's own, then a get of its first record where the
    // integration maps a get.
    for (resource, extra) in LISTS.iter().filter(|l| l.0 == name).flat_map(|l| l.1.iter()) {
        let list = integration
            .unified("user-directory", resource, UnifiedMethod::List)
            .unwrap_or_else(|| panic!("LISTS names {resource}, which {name} does not list"));
        let base = format!("/unified/user-directory/{resource}");
        let required = list.required_query_example();
        let listed = run(
            &format!("{resource} list"),
            app.get(&format!(
                "{base}?integrated_account_id={account}&limit=2{required}{extra}"
            ))
            .await,
            &mut out,
        );
        let first = listed.body["result"][0]["id"].as_str().map(str::to_string);
        if let (Some(get), Some(id)) = (
            integration.unified("user-directory", resource, UnifiedMethod::Get),
            first,
        ) {
            let required = get.required_query_example();
            run(
                &format!("{resource} get"),
                app.get(&format!("{base}/{id}?integrated_account_id={account}{required}"))
                    .await,
                &mut out,
            );
        }
    }
    // Other User Directory writes, where [`WRITES`] names the integration: a create, then
    // the delete of the record it made.
    for write in WRITES.iter().filter(|w| w.integration == name) {
        let base = format!("/unified/user-directory/{}", write.resource);
        let scope = write.query;
        let created = run(
            &format!("{} create", write.resource),
            app.send(
                Method::POST,
                &format!("{base}?integrated_account_id={account}{scope}"),
                Some((write.create)()),
            )
            .await,
            &mut out,
        );
        if let Some(new_id) = created.body["id"].as_str() {
            let extra = write.delete_query;
            run(
                &format!("{} delete", write.resource),
                app.send(
                    Method::DELETE,
                    &format!("{base}/{new_id}?integrated_account_id={account}{scope}{extra}"),
                    None,
                )
                .await,
                &mut out,
            );
        }
    }
    // Everything else the catalog maps, and the check that nothing is left out.
    let scope = |resource: &str| {
        let groups = GROUPS
            .iter()
            .filter(|g| g.integration == name && resource == "groups")
            .map(|g| g.query);
        let writes = WRITES
            .iter()
            .filter(|w| w.integration == name && w.resource == resource)
            .map(|w| w.query);
        groups.chain(writes).take(1).collect::<String>()
    };
    let rest = crate::rest::drive_rest(
        app,
        &integration,
        name,
        &account,
        &id,
        main_checks,
        &scope,
        &driven,
        &mut run,
        &mut out,
    )
    .await;
    problems.extend(rest);
    (out, problems, got.into_inner())
}

/// A User Directory write driven besides users and groups: a create, then the delete of
/// what it made.
struct WriteEntry {
    integration: &'static str,
    resource: &'static str,
    /// Query parameters every call takes.
    query: &'static str,
    create: fn() -> Value,
    /// Query parameters the delete takes besides.
    delete_query: &'static str,
}

const WRITES: &[WriteEntry] = &[
    WriteEntry {
        integration: "mongodb-atlas",
        resource: "role_assignments",
        query: "&organization_id=5f4d3c2b1a0e9d8c7b6a5f4e",
        create: || json!({"user_id": "5c8f3b2a0d4e5f6a7b8c9d01", "role_id": "ORG_BILLING_READ_ONLY"}),
        delete_query: "&user_id=5c8f3b2a0d4e5f6a7b8c9d01",
    },
    WriteEntry {
        integration: "elastic-cloud",
        resource: "role_assignments",
        query: "&organization_id=1801364926",
        create: || json!({"user_id": "4021937766", "role_id": "billing-admin"}),
        delete_query: "",
    },
];

/// User Directory lists driven besides users and groups, by integration: the resource and
/// query parameters of its own (a date filter the integration sends to the provider; the
/// users list again with filters the provider applies).
const LISTS: &[(&str, &[(&str, &str)])] = &[
    // GitHub's organization roles are not in the bundled spec (docs.github.com only).
    ("github", &[("me", ""), ("activities", ""), ("licenses", "")]),
    (
        "clickup",
        &[("me", ""), ("workspaces", ""), ("roles", ""), ("licenses", "")],
    ),
    ("auth0", &[("activities", "")]),
    ("jumpcloud", &[("licenses", "")]),
    (
        "mongodb-atlas",
        &[
            ("workspaces", ""),
            ("workspaces", "&organization_id=5f4d3c2b1a0e9d8c7b6a5f4e"),
            ("role_assignments", ""),
            (
                "activities",
                "&created_at[gte]=2024-06-01T00:00:00Z&created_at[lte]=2024-06-30T00:00:00Z",
            ),
        ],
    ),
    ("platform-sh", &[("workspaces", ""), ("me", "")]),
    // The users filters Google applies: `query` and `showDeleted` of users.list.
    (
        "google-workspace",
        &[
            ("me", ""),
            (
                "users",
                "&email=sam.jones@example.com&first_name=Samuel&last_name=Jones&status=active",
            ),
            ("users", "&status=deleted"),
        ],
    ),
    ("elastic-cloud", &[("role_assignments", "")]),
    (
        "webex",
        &[(
            "activities",
            "&created_at[gte]=2024-06-01T00:00:00Z&created_at[lte]=2024-06-30T00:00:00Z",
        )],
    ),
];

/// The integrations whose groups are driven too: a unified group to create (the
/// provider's required fields), and the calls left out, each for a known deviation.
struct GroupsEntry {
    integration: &'static str,
    /// Query parameters every groups call needs (GitHub's teams are per organization).
    query: &'static str,
    create: fn() -> Value,
    /// Calls not driven. Graph's members list: its `$select` names user properties, which
    /// the spec's `directoryObject` enum does not list (Graph answers them for user
    /// members).
    skip: &'static [&'static str],
}

const GROUPS: &[GroupsEntry] = &[
    GroupsEntry {
        query: "",
        integration: "okta",
        create: || json!({"name": "Conformance Group", "description": "Checks"}),
        skip: &[],
    },
    GroupsEntry {
        query: "",
        integration: "microsoft-entra-id",
        create: || json!({"name": "Conformance Group", "description": "Checks"}),
        skip: &["users list with group_id"],
    },
    GroupsEntry {
        query: "",
        integration: "google-workspace",
        create: || {
            json!({"name": "Conformance Group", "description": "Checks",
                   "remote_data": {"email": "conformance.group@example.com"}})
        },
        skip: &[],
    },
    GroupsEntry {
        query: "",
        integration: "jumpcloud",
        create: || json!({"name": "Conformance Group", "description": "Checks"}),
        skip: &[],
    },
    GroupsEntry {
        query: "&organization_id=octo-org",
        integration: "github",
        create: || json!({"name": "conformance", "description": "Checks"}),
        skip: &[],
    },
    GroupsEntry {
        query: "&organization_id=1234",
        integration: "clickup",
        create: || json!({"name": "conformance"}),
        // The drive's update writes a description, which ClickUp's user groups lack
        // (`rest` drives a rename instead).
        skip: &["groups update"],
    },
    GroupsEntry {
        query: "",
        integration: "webex",
        create: || json!({"name": "Conformance Group"}),
        // A Webex group has no description, which the drive's update sets (see
        // `rest::SKIPS` for why its rename is not checked either).
        skip: &["groups update"],
    },
    GroupsEntry {
        query: "&organization_id=5f4d3c2b1a0e9d8c7b6a5f4e",
        integration: "mongodb-atlas",
        create: || json!({"name": "Conformance-Team"}),
        // The drive's update sets a description, which an Atlas team has not (refused
        // by Unigate before any call); `rest` drives a rename instead.
        skip: &["groups update"],
    },
    GroupsEntry {
        query: "&organization_id=01H2X6D1M5NQ7P3R8S9T0V1W2X",
        integration: "platform-sh",
        create: || json!({"name": "Conformance"}),
        // A Platform.sh team has no description (the drive's update sets one; `rest`
        // drives a rename instead).
        skip: &["groups update"],
    },
];

/// Gets whose response examples are not run through the mapping, each for its reason.
const EXAMPLES_UNMAPPED: &[(&str, &str)] = &[
    // The unified id is `{user_id}:{role_id}`, and elastic-cloud-user.json has no example of
    // its members list, only a sample built from the schema (`"string"` everywhere), in
    // which no id of the emulator's selects a record.
    ("elastic-cloud", "role_assignments get"),
];

/// A request to an OAuth token endpoint.
fn is_token_request(req: &RecordedRequest) -> bool {
    req.method == "POST" && url::form_urlencoded::parse(&req.body).any(|(k, _)| k == "grant_type")
}

/// Just enough of a Google discovery document to check a request against a method.
struct Discovery {
    file: String,
    doc: Value,
    /// (HTTP method, path template split in segments, method JSON).
    methods: Vec<(String, Vec<String>, Value)>,
}

impl Discovery {
    fn load(path: &Path) -> Result<Discovery, String> {
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        if doc["kind"] != "discovery#restDescription" {
            return Err(format!("{file} is not a Google discovery document either"));
        }
        let mut methods = Vec::new();
        fn walk(resources: &Value, out: &mut Vec<(String, Vec<String>, Value)>) {
            for resource in resources.as_object().into_iter().flat_map(|m| m.values()) {
                for method in resource["methods"].as_object().into_iter().flat_map(|m| m.values()) {
                    let path = method["path"].as_str().unwrap_or_default();
                    let segments = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
                    out.push((
                        method["httpMethod"].as_str().unwrap_or_default().to_string(),
                        segments,
                        method.clone(),
                    ));
                }
                walk(&resource["resources"], out);
            }
        }
        walk(&doc["resources"], &mut methods);
        Ok(Discovery { file, doc, methods })
    }

    fn check(&self, req: &RecordedRequest) -> Option<(String, Vec<String>)> {
        let base = self.doc["servicePath"].as_str().unwrap_or_default();
        let path = req.path.trim_start_matches('/').strip_prefix(base)?;
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let (_, _, method) = self
            .methods
            .iter()
            .filter(|(m, t, _)| *m == req.method && t.len() == segs.len())
            .filter(|(_, t, _)| t.iter().zip(&segs).all(|(t, s)| t.starts_with('{') || t == s))
            .max_by_key(|(_, t, _)| t.iter().filter(|s| !s.starts_with('{')).count())?;
        let name = format!(
            "{} {} ({})",
            req.method,
            method["id"].as_str().unwrap_or_default(),
            self.file
        );
        let mut problems = Vec::new();
        let params = method["parameters"].as_object().cloned().unwrap_or_default();
        let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query.as_bytes()).into_owned().collect();
        for (k, v) in &query {
            match params.get(k).filter(|p| p["location"] == "query") {
                None if self.doc["parameters"].get(k).is_some() => {}
                None => problems.push(format!("query parameter `{k}` is not a parameter of the method")),
                Some(p) => {
                    if let Some(values) = p["enum"].as_array() {
                        if !values.iter().any(|e| e == v) {
                            problems.push(format!("`{k}={v}` is not one of {}", Value::Array(values.clone())));
                        }
                    }
                    if p["type"] == "integer" && v.parse::<i64>().is_err() {
                        problems.push(format!("`{k}={v}` is not an integer"));
                    }
                }
            }
        }
        for (k, p) in &params {
            if p["required"] == true && p["location"] == "query" && !query.iter().any(|(q, _)| q == k) {
                problems.push(format!("required query parameter `{k}` is missing"));
            }
        }
        match (method["request"]["$ref"].as_str(), &req.json) {
            (Some(schema), Some(Value::Object(body))) => {
                let props = &self.doc["schemas"][schema]["properties"];
                for k in body.keys() {
                    if props.get(k).is_none() {
                        problems.push(format!("body field `{k}` is not a property of `{schema}`"));
                    }
                }
            }
            (Some(schema), _) => problems.push(format!("a `{schema}` body is required")),
            (None, Some(_)) => problems.push("the method takes no body".into()),
            (None, None) => {}
        }
        match req.header("authorization") {
            Some(a) if a.starts_with("Bearer ") => {}
            other => problems.push(format!("no OAuth Bearer credentials (Authorization: {other:?})")),
        }
        Some((name, problems))
    }
}

/// An OpenAPI 3 document checked without inlining its schemas: method and path, query
/// parameters (declared, enums of each comma-separated item, integers), required query
/// parameters, the body's top-level properties (through `allOf`), and Bearer credentials.
struct LightOpenApi {
    file: String,
    doc: Value,
    prefix: String,
}

impl LightOpenApi {
    fn load(path: &Path, prefix: &str) -> Result<LightOpenApi, String> {
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let doc: Value = serde_norway::from_str(&std::fs::read_to_string(path).map_err(|e| e.to_string())?)
            .map_err(|e| format!("{file}: {e}"))?;
        Ok(LightOpenApi {
            file,
            doc,
            prefix: prefix.to_string(),
        })
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => self.doc.pointer(pointer).unwrap_or(&Value::Null),
            None => v,
        }
    }

    /// Property names of a schema, through `$ref` and `allOf`.
    fn properties(&self, schema: &Value, depth: usize, out: &mut Vec<String>) {
        if depth > 8 {
            return;
        }
        let schema = self.resolve(schema);
        if let Some(props) = schema["properties"].as_object() {
            out.extend(props.keys().cloned());
        }
        for part in schema["allOf"].as_array().into_iter().flatten() {
            self.properties(part, depth + 1, out);
        }
    }

    fn check(&self, req: &RecordedRequest) -> Option<(String, Vec<String>)> {
        let path = req.path.strip_prefix(&self.prefix)?;
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (template, item) = self.doc["paths"]
            .as_object()?
            .iter()
            .filter(|(t, item)| {
                let parts: Vec<&str> = t.split('/').filter(|s| !s.is_empty()).collect();
                item.get(req.method.to_ascii_lowercase()).is_some()
                    && parts.len() == segs.len()
                    && parts.iter().zip(&segs).all(|(p, s)| p.starts_with('{') || p == s)
            })
            .max_by_key(|(t, _)| t.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')).count())?;
        let op = &item[req.method.to_ascii_lowercase()];
        let name = format!("{} {template} ({})", req.method, self.file);
        let mut problems = Vec::new();
        let params: Vec<&Value> = item["parameters"]
            .as_array()
            .into_iter()
            .chain(op["parameters"].as_array())
            .flatten()
            .map(|p| self.resolve(p))
            .collect();
        let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query.as_bytes()).into_owned().collect();
        for (k, v) in &query {
            let Some(p) = params.iter().find(|p| p["in"] == "query" && p["name"] == k.as_str()) else {
                problems.push(format!("query parameter `{k}` is not declared"));
                continue;
            };
            let schema = self.resolve(&p["schema"]);
            if let Some(values) = schema["items"]["enum"].as_array() {
                for item in v.split(',') {
                    if !values.iter().any(|e| e == item) {
                        problems.push(format!("`{k}` item `{item}` is not one of the declared values"));
                    }
                }
            }
            if schema["type"] == "integer" && v.parse::<i64>().is_err() {
                problems.push(format!("`{k}={v}` is not an integer"));
            }
        }
        for p in &params {
            if p["in"] == "query" && p["required"] == true && !query.iter().any(|(q, _)| p["name"] == q.as_str()) {
                problems.push(format!("required query parameter `{}` is missing", p["name"]));
            }
        }
        let body_schema = &self.resolve(&op["requestBody"])["content"]["application/json"]["schema"];
        match (body_schema.is_null(), &req.json) {
            (false, Some(Value::Object(body))) => {
                let mut known = Vec::new();
                self.properties(body_schema, 0, &mut known);
                for k in body.keys() {
                    if !known.contains(k) {
                        problems.push(format!("body field `{k}` is not a property of the schema"));
                    }
                }
            }
            (false, _) if self.resolve(&op["requestBody"])["required"] == true => {
                problems.push("a JSON body is required".into())
            }
            (true, Some(_)) => problems.push("the operation takes no body".into()),
            _ => {}
        }
        match req.header("authorization") {
            Some(a) if a.starts_with("Bearer ") => {}
            other => problems.push(format!("no OAuth Bearer credentials (Authorization: {other:?})")),
        }
        Some((name, problems))
    }
}
