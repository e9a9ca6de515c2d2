//! The rest of the User Directory: every (resource, method) an integration with a spec maps
//! that [`crate::users`]'s drive did not already call is driven here, generically (a list,
//! a get and an update of the first record listed, a create and the delete of what it
//! made, custom methods such as a group's `add-user`), and then the catalog is checked for
//! completeness: a mapped call that is neither driven nor in [`SKIPS`] (each with its
//! reason) fails the test, so a new catalog method cannot go unchecked.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use reqwest::Method;
use serde_json::{json, Value};
use unigate::catalog::types::UnifiedMethod;
use unigate::catalog::Integration;
use unigate_emulator::RecordedRequest;

use crate::helpers::{Reply, TestApp};
use crate::{say, verbose};

/// The User Directory resources, in the order they are driven (a role is listed before a
/// role assignment names it).
const RESOURCES: &[&str] = &[
    "organizations",
    "users",
    "groups",
    "roles",
    "role_assignments",
    "licenses",
    "workspaces",
    "me",
    "activities",
];

/// Calls not checked against the spec, by integration, each with its reason.
pub(crate) const SKIPS: &[(&str, &str, &str)] = &[
    (
        "turso",
        "users create",
        "turso-platform.json's add-member body declares `username` and `role` but requires `email`, \
         which it does not declare: a defect of the spec, not of the request",
    ),
    (
        "github",
        "roles list",
        "organization roles (`/orgs/{org}/organization-roles`) are not in github-rest.json (docs.github.com only)",
    ),
    (
        "github",
        "roles get",
        "organization roles (`/orgs/{org}/organization-roles/{role_id}`) are not in github-rest.json",
    ),
    (
        "github",
        "role_assignments list",
        "organization role users (`/orgs/{org}/organization-roles/{role_id}/users`) are not in github-rest.json",
    ),
    (
        "github",
        "role_assignments get",
        "organization role users are not in github-rest.json",
    ),
    (
        "github",
        "role_assignments create",
        "`PUT /orgs/{org}/organization-roles/users/{username}/{role_id}` is not in github-rest.json",
    ),
    (
        "github",
        "role_assignments delete",
        "`DELETE /orgs/{org}/organization-roles/users/{username}/{role_id}` is not in github-rest.json",
    ),
    (
        "jumpcloud",
        "activities list",
        "Directory Insights (`api.jumpcloud.com/insights/directory/v1/events`) is a separate API \
         that neither jumpcloud-v1.json nor jumpcloud-v2.json describes",
    ),
    (
        "google-workspace",
        "licenses list",
        "Google's Enterprise License Manager API (`licensing.googleapis.com`) is not in the \
         Directory API's discovery document",
    ),
    (
        "google-workspace",
        "licenses get",
        "Enterprise License Manager API (`licensing.googleapis.com`), not in the Directory API's discovery document",
    ),
    (
        "google-workspace",
        "activities list",
        "the Reports API (`admin/reports/v1/activity`) has its own discovery document, not the Directory API's",
    ),
    (
        "github",
        "organizations delete",
        "`DELETE /orgs/{org}` (GitHub's \"Delete an organization\") is not in the bundled github-rest.json",
    ),
    (
        "webex",
        "groups update",
        "webex-admin.json types a `PatchGroup` operation's `value` as an array of members only, though \
         its own `path` example is `displayName`, whose SCIM (RFC 7644 3.5.2) value is a string: a defect of the spec",
    ),
    (
        "meta-marketing",
        "organizations list",
        "`GET /me/businesses` is an edge of the `User` node, which meta-business-sdk-spec.json \
         (the `Business` node and its edges) does not describe",
    ),
    (
        "meta-marketing",
        "users get",
        "a business user (`/{business-user-id}`) is a `BusinessUser` node, which \
         meta-business-sdk-spec.json (the `Business` node and its edges) does not describe",
    ),
    (
        "meta-marketing",
        "users update",
        "a business user (`/{business-user-id}`) is a `BusinessUser` node, which \
         meta-business-sdk-spec.json (the `Business` node and its edges) does not describe",
    ),
    (
        "meta-marketing",
        "users delete",
        "a business user (`/{business-user-id}`) is a `BusinessUser` node, which \
         meta-business-sdk-spec.json (the `Business` node and its edges) does not describe",
    ),
];

/// Whether `SKIPS` leaves `key` (`resource method`) of `integration` unchecked.
pub(crate) fn skipped(integration: &str, key: &str) -> bool {
    SKIPS.iter().any(|(i, k, _)| *i == integration && *k == key)
}

/// Unified bodies of the writes and custom methods driven here, by integration and call.
/// A custom method without an entry sends `{group_id, user_id}` of the first group and
/// user listed.
type Body = fn(&Ids) -> Value;
const BODIES: &[(&str, &str, Body)] = &[
    (
        "auth0",
        "roles create",
        |_| json!({"name": "Conformance Role", "description": "Checks"}),
    ),
    ("auth0", "roles update", |_| json!({"description": "Checked"})),
    (
        "auth0",
        "role_assignments create",
        |ids| json!({"user_id": ids.first("users"), "role_id": ids.first("roles")}),
    ),
    // Okta, Google and Graph require a custom role's permissions, which the unified role has
    // no field for: they go in `remote_data` (merged into the provider's body).
    ("okta", "roles create", |_| {
        json!({"name": "Conformance Role", "description": "Checks",
               "remote_data": {"permissions": ["okta.users.read"]}})
    }),
    ("okta", "roles update", |_| json!({"description": "Checked"})),
    (
        "okta",
        "role_assignments create",
        |ids| json!({"user_id": ids.first("users"), "role_id": "USER_ADMIN"}),
    ),
    ("microsoft-entra-id", "roles create", |_| {
        json!({"name": "Conformance Role", "description": "Checks",
               "remote_data": {"rolePermissions": [{"allowedResourceActions": ["microsoft.directory/users/standard/read"]}]}})
    }),
    (
        "microsoft-entra-id",
        "roles update",
        |_| json!({"description": "Checked"}),
    ),
    (
        "microsoft-entra-id",
        "role_assignments create",
        |ids| json!({"user_id": ids.first("users"), "role_id": ids.first("roles")}),
    ),
    ("google-workspace", "roles create", |_| {
        json!({"name": "Conformance Role", "description": "Checks",
               "remote_data": {"rolePrivileges": [{"privilegeName": "USERS_RETRIEVE", "serviceId": "00haapch16h1ysv"}]}})
    }),
    (
        "google-workspace",
        "roles update",
        |_| json!({"description": "Checked"}),
    ),
    (
        "google-workspace",
        "role_assignments create",
        |ids| json!({"user_id": ids.first("users"), "role_id": ids.first("roles")}),
    ),
    // The groups whose drive in `users.rs` writes a description they have not: a rename.
    ("clickup", "groups update", |_| json!({"name": "conformance-2"})),
    (
        "mongodb-atlas",
        "groups update",
        |_| json!({"name": "Conformance-Team-2"}),
    ),
    ("platform-sh", "groups update", |_| json!({"name": "Conformance 2"})),
    (
        "juniper-mist",
        "organizations create",
        |_| json!({"name": "Conformance Co"}),
    ),
    // Its organizations update is not in `main.rs`, which reads OpenAPI specs only.
    (
        "meta-marketing",
        "organizations update",
        |_| json!({"name": "Conformance Co"}),
    ),
];

/// The first id each resource listed (the users drive's first user under `users`).
#[derive(Default)]
pub(crate) struct Ids {
    first: HashMap<String, String>,
}

impl Ids {
    fn first(&self, resource: &str) -> String {
        self.first.get(resource).cloned().unwrap_or_default()
    }
}

/// `users list with group_id` → `users list`; a users call's bare method → `users get`.
pub(crate) fn call_key(call: &str) -> String {
    let mut words = call.split_whitespace();
    match (words.next(), words.next()) {
        (Some(method), None) => format!("users {method}"),
        (Some(resource), Some(method)) => format!("{resource} {method}"),
        _ => String::new(),
    }
}

/// What a call needs to be run and recorded: the drive's `run`.
pub(crate) type Run<'a> = dyn FnMut(&str, Reply, &mut Vec<(String, RecordedRequest)>) -> Reply + 'a;

/// Drives what `driven` lacks, then reports each mapped call neither driven nor skipped.
/// `scope` gives query parameters a resource's calls need beyond their required ones.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn drive_rest(
    app: &TestApp,
    integration: &Integration,
    name: &str,
    account: &str,
    user: &str,
    main_checks: bool,
    scope: &dyn Fn(&str) -> String,
    driven: &RefCell<BTreeSet<String>>,
    run: &mut Run<'_>,
    out: &mut Vec<(String, RecordedRequest)>,
) -> Vec<String> {
    const CATEGORY: &str = "user-directory";
    let skipped = |key: &str| skipped(name, key);
    // `main.rs` drives and checks the organizations update of its entries (with names
    // their rules take) whose spec is OpenAPI.
    let in_main = main_checks && crate::ENTRIES.iter().any(|e| e.integrations.contains(&name));
    if in_main {
        driven.borrow_mut().insert("organizations update".into());
    }
    let mut ids = Ids::default();
    ids.first.insert("users".into(), user.to_string());
    let mut problems = Vec::new();
    // Deletes of records this drive did not create: last, organizations after the rest.
    let mut deferred: Vec<(String, String)> = Vec::new();
    for resource in RESOURCES {
        let methods = integration.unified_methods(CATEGORY, resource);
        let customs = integration.custom_methods(CATEGORY, resource);
        if methods.is_empty() && customs.is_empty() {
            continue;
        }
        let todo = |method: &str| {
            let key = format!("{resource} {method}");
            !driven.borrow().contains(&key) && !skipped(&key)
        };
        let required = |method: UnifiedMethod| {
            integration
                .unified(CATEGORY, resource, method)
                .map(|m| m.required_query_example())
                .unwrap_or_default()
        };
        let extra = |method: UnifiedMethod| without_keys(&scope(resource), &required(method));
        let base = format!("/unified/user-directory/{resource}");
        let query =
            |method: UnifiedMethod| format!("integrated_account_id={account}{}{}", required(method), extra(method));
        let has = |m: UnifiedMethod| methods.contains(&m);
        let wants_id = (has(UnifiedMethod::Get) && todo("get"))
            || (has(UnifiedMethod::Update) && todo("update"))
            || (has(UnifiedMethod::Delete) && !has(UnifiedMethod::Create) && todo("delete"))
            || (has(UnifiedMethod::Delete) && todo("delete") && skipped(&format!("{resource} create")))
            || !customs.is_empty();
        if has(UnifiedMethod::List) && (todo("list") || (wants_id && *resource != "users")) {
            let call = format!("{resource} list");
            let r = run(
                &call,
                app.get(&format!("{base}?{}&limit=2", query(UnifiedMethod::List))).await,
                out,
            );
            driven.borrow_mut().insert(call);
            if let Some(id) = r.body["result"][0]["id"].as_str() {
                ids.first.insert(resource.to_string(), id.to_string());
            }
        }
        let first = ids.first.get(*resource).cloned();
        if has(UnifiedMethod::Get) && todo("get") {
            if let Some(id) = &first {
                let call = format!("{resource} get");
                run(
                    &call,
                    app.get(&format!("{base}/{id}?{}", query(UnifiedMethod::Get))).await,
                    out,
                );
                driven.borrow_mut().insert(call);
            }
        }
        let body = |key: &str| {
            BODIES
                .iter()
                .find(|(i, k, _)| *i == name && *k == key)
                .map(|(_, _, b)| b(&ids))
        };
        if has(UnifiedMethod::Update) && todo("update") {
            let call = format!("{resource} update");
            match (&first, body(&call)) {
                (Some(id), Some(change)) => {
                    run(
                        &call,
                        app.send(
                            Method::PATCH,
                            &format!("{base}/{id}?{}", query(UnifiedMethod::Update)),
                            Some(change),
                        )
                        .await,
                        out,
                    );
                    driven.borrow_mut().insert(call);
                }
                (None, _) => problems.push(format!("{call}: no record listed to update")),
                (_, None) => problems.push(format!("{call}: no unified body in rest::BODIES")),
            }
        }
        let mut created = None;
        if has(UnifiedMethod::Create) && todo("create") {
            let call = format!("{resource} create");
            match body(&call) {
                Some(new) => {
                    let r = run(
                        &call,
                        app.send(
                            Method::POST,
                            &format!("{base}?{}", query(UnifiedMethod::Create)),
                            Some(new),
                        )
                        .await,
                        out,
                    );
                    driven.borrow_mut().insert(call);
                    created = r.body["id"].as_str().map(str::to_string);
                }
                None => problems.push(format!("{call}: no unified body in rest::BODIES")),
            }
        }
        if has(UnifiedMethod::Delete) && todo("delete") {
            match created.or_else(|| first.clone()) {
                Some(id) => deferred.push((resource.to_string(), id)),
                None => problems.push(format!("{resource} delete: no record created or listed to delete")),
            }
        }
        for method in customs {
            if !todo(method) {
                continue;
            }
            let call = format!("{resource} {method}");
            let payload =
                body(&call).unwrap_or_else(|| json!({"group_id": ids.first(resource), "user_id": ids.first("users")}));
            let required = integration
                .custom(CATEGORY, resource, method)
                .map(|m| m.required_query_example())
                .unwrap_or_default();
            let extra = without_keys(&scope(resource), &required);
            let url = format!("{base}/{method}?integrated_account_id={account}{required}{extra}");
            run(&call, app.send(Method::POST, &url, Some(payload)).await, out);
            driven.borrow_mut().insert(call);
        }
    }
    deferred.sort_by_key(|(resource, _)| *resource == "organizations");
    for (resource, id) in deferred {
        let call = format!("{resource} delete");
        let required = integration
            .unified(CATEGORY, &resource, UnifiedMethod::Delete)
            .map(|m| m.required_query_example())
            .unwrap_or_default();
        let extra = without_keys(&scope(&resource), &required);
        let url = format!("/unified/user-directory/{resource}/{id}?integrated_account_id={account}{required}{extra}");
        run(&call, app.send(Method::DELETE, &url, None).await, out);
        driven.borrow_mut().insert(call);
    }

    // Completeness: each mapped call driven here, in `users.rs`, or (an organizations
    // update) in `main.rs`, or skipped for its reason.
    for resource in RESOURCES {
        let standard = integration
            .unified_methods(CATEGORY, resource)
            .into_iter()
            .map(|m| m.as_str());
        for method in standard.chain(integration.custom_methods(CATEGORY, resource)) {
            let key = format!("{resource} {method}");
            if let Some((_, _, reason)) = SKIPS.iter().find(|(i, k, _)| *i == name && *k == key) {
                if verbose() {
                    say(&format!("  {name} {key}: not checked: {reason}"));
                }
                continue;
            }
            if !driven.borrow().contains(&key) {
                problems.push(format!(
                    "{key}: mapped by the catalog but neither driven nor in rest::SKIPS"
                ));
            }
        }
    }
    problems
}

/// The `&k=v` parameters of `extra` whose keys `required` does not already give.
fn without_keys(extra: &str, required: &str) -> String {
    let given: Vec<&str> = required
        .split('&')
        .filter_map(|kv| kv.split('=').next())
        .filter(|k| !k.is_empty())
        .collect();
    extra
        .split('&')
        .filter(|kv| !kv.is_empty() && !given.contains(&kv.split('=').next().unwrap_or_default()))
        .map(|kv| format!("&{kv}"))
        .collect()
}

#[test]
fn calls_are_keyed_by_resource_and_method() {
    assert_eq!(call_key("get"), "users get");
    assert_eq!(call_key("users list with group_id"), "users list");
    assert_eq!(call_key("groups add-user"), "groups add-user");
    assert_eq!(call_key("organizations list"), "organizations list");
}

#[test]
fn a_scope_parameter_the_required_ones_give_is_left_out() {
    assert_eq!(
        without_keys("&organization_id=a&team=b", "&organization_id=octo-org"),
        "&team=b"
    );
    assert_eq!(without_keys("&organization_id=a", ""), "&organization_id=a");
    assert_eq!(without_keys("", "&user_id=u"), "");
}

#[test]
fn every_skip_names_a_call_and_gives_a_reason() {
    for (integration, key, reason) in SKIPS {
        let resource = key.split_whitespace().next().unwrap_or_default();
        assert!(
            RESOURCES.contains(&resource),
            "{integration}: `{key}` names no resource"
        );
        assert_eq!(
            key.split_whitespace().count(),
            2,
            "{integration}: `{key}` is not `resource method`"
        );
        assert!(reason.len() > 20, "{integration} {key}: the reason is too short");
    }
}
