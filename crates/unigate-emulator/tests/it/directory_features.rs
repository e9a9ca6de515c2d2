//! Engine features the directory providers (Okta, Microsoft Graph, Google Workspace) need,
//! each on a small inline spec: nested write rules, deep merges, soft deletes, id aliases,
//! required query parameters, `$select`-style projection and keyset cursors in `Link`.

use serde_json::{json, Value};
use unigate_emulator::{start, EmulatorSpec, RunningEmulator};

use crate::helpers::client;

const SPEC: &str = r#"
errors:
  default: { body: { message: "{{message}}", errors: "{{errors}}" } }
collections:
  users:
    aliases: { me: u1 }
    records:
      - { id: u1, status: ACTIVE, profile: { login: ann@example.com, firstName: Ann, title: CTO } }
      - { id: u2, status: ACTIVE, profile: { login: bob@example.com, firstName: Bob } }
      - { id: u3, status: STAGED, profile: { login: cy@example.com, firstName: Cy } }
routes:
  - method: GET
    path: /users
    op: list
    collection: users
    required_query: [customer]
    response: { select_param: "$select" }
    paginate: { style: cursor, cursor_param: after, cursor_field: id, size_param: limit, link_header: true }
  - { method: GET, path: "/users/{id}", op: get, collection: users, response: { select_param: "$select" } }
  - method: POST
    path: /users
    op: create
    collection: users
    write:
      reject_unknown_fields: true
      required: [profile.login]
      fields:
        profile.login: { type: string, pattern: '[^@]+@[^@]+' }
  - method: POST
    path: "/users/{id}"
    op: merge
    collection: users
    write: { deep_merge: true }
  - method: PUT
    path: "/users/{id}"
    op: merge
    collection: users
  - method: DELETE
    path: "/users/{id}"
    op: delete
    collection: users
    soft_delete: { unless: { status: DEPROVISIONED }, set: { status: DEPROVISIONED } }
"#;

async fn spawn() -> RunningEmulator {
    start(EmulatorSpec::from_yaml("directory", SPEC).unwrap())
        .await
        .unwrap()
}

async fn call(e: &RunningEmulator, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value, String) {
    let mut req = client().request(method, format!("{}{path}", e.base_url()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let link = res
        .headers()
        .get("link")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), link)
}

#[tokio::test]
async fn nested_required_fields_and_rules_are_checked_and_their_top_field_is_known() {
    let e = spawn().await;

    let (status, body, _) = call(
        &e,
        reqwest::Method::POST,
        "/users",
        Some(json!({"profile": {"firstName": "Di"}})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "profile.login", "{body}");

    let (status, body, _) = call(
        &e,
        reqwest::Method::POST,
        "/users",
        Some(json!({"profile": {"login": "no-at-sign"}})),
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["code"].clone()),
        (422, json!("pattern")),
        "{body}"
    );

    let (status, body, _) = call(
        &e,
        reqwest::Method::POST,
        "/users",
        Some(json!({"profile": {"login": "di@example.com"}})),
    )
    .await;
    assert_eq!(status, 201, "`profile` is a known field: {body}");
}

#[tokio::test]
async fn a_deep_merge_keeps_nested_fields_it_was_not_given() {
    let e = spawn().await;

    let (status, body, _) = call(
        &e,
        reqwest::Method::POST,
        "/users/u1",
        Some(json!({"profile": {"title": "CEO"}})),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["profile"],
        json!({"login": "ann@example.com", "firstName": "Ann", "title": "CEO"})
    );
    let (_, body, _) = call(
        &e,
        reqwest::Method::PUT,
        "/users/u1",
        Some(json!({"profile": {"title": "CFO"}})),
    )
    .await;
    assert_eq!(
        body["profile"],
        json!({"title": "CFO"}),
        "a plain merge replaces the object"
    );
}

#[tokio::test]
async fn a_soft_delete_marks_the_record_first_and_removes_it_the_second_time() {
    let e = spawn().await;

    let (status, _, _) = call(&e, reqwest::Method::DELETE, "/users/u2", None).await;
    assert_eq!(status, 204);
    assert_eq!(e.record("users", "u2").unwrap()["status"], "DEPROVISIONED");

    let (status, _, _) = call(&e, reqwest::Method::DELETE, "/users/u2", None).await;
    assert_eq!(status, 204);
    assert!(e.record("users", "u2").is_none());
    let (status, _, _) = call(&e, reqwest::Method::DELETE, "/users/u2", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_alias_addresses_its_record() {
    let e = spawn().await;

    let (status, body, _) = call(&e, reqwest::Method::GET, "/users/me", None).await;

    assert_eq!((status, body["id"].clone()), (200, json!("u1")), "{body}");
}

#[tokio::test]
async fn a_missing_required_query_parameter_is_a_bad_request_naming_it() {
    let e = spawn().await;

    let (status, body, _) = call(&e, reqwest::Method::GET, "/users", None).await;

    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("customer"), "{body}");
}

#[tokio::test]
async fn the_select_parameter_projects_the_answer() {
    let e = spawn().await;

    let (_, one, _) = call(&e, reqwest::Method::GET, "/users/u3?$select=id,status", None).await;
    let (_, list, _) = call(&e, reqwest::Method::GET, "/users?customer=c&$select=id", None).await;

    assert_eq!(one, json!({"id": "u3", "status": "STAGED"}));
    assert_eq!(list, json!([{"id": "u1"}, {"id": "u2"}, {"id": "u3"}]));
}

#[tokio::test]
async fn a_keyset_cursor_list_links_the_next_page_by_the_last_records_key() {
    let e = spawn().await;

    let (_, page, link) = call(&e, reqwest::Method::GET, "/users?customer=c&limit=2", None).await;
    assert_eq!(page.as_array().unwrap().len(), 2);
    let expected = format!("<{}/users?customer=c&limit=2&after=u2>; rel=\"next\"", e.base_url());
    assert_eq!(link, expected);

    let (_, page, link) = call(&e, reqwest::Method::GET, "/users?customer=c&limit=2&after=u2", None).await;
    assert_eq!(page, json!([e.record("users", "u3").unwrap()]));
    assert_eq!(link, "", "no next link on the last page");
}

const FILTERS: &str = r#"
collections:
  members:
    records:
      - { id: m1, org: { id: acme }, email: Ann@Example.com, tags: [a, b] }
      - { id: m2, org: { id: acme }, email: bob@example.com, tags: [c] }
      - { id: m3, org: { id: other }, email: cy@example.com, tags: [a] }
routes:
  - method: GET
    path: "/orgs/{org}/members"
    op: list
    collection: members
    filter: { org.id: "{{params.org}}" }
    query_filter: { "filter[email]": email, tag: tags }
"#;

#[tokio::test]
async fn dotted_filters_scope_a_list_and_query_filters_apply_only_when_sent() {
    let e = start(EmulatorSpec::from_yaml("filters", FILTERS).unwrap())
        .await
        .unwrap();
    let ids = |body: Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };

    let (_, all, _) = call(&e, reqwest::Method::GET, "/orgs/acme/members", None).await;
    let (_, by_email, _) = call(
        &e,
        reqwest::Method::GET,
        "/orgs/acme/members?filter%5Bemail%5D=ann%40example.com,x%40y.z",
        None,
    )
    .await;
    let (_, by_tag, _) = call(&e, reqwest::Method::GET, "/orgs/acme/members?tag=A", None).await;

    assert_eq!(ids(all), ["m1", "m2"]);
    assert_eq!(ids(by_email), ["m1"]);
    assert_eq!(ids(by_tag), ["m1"]);
}

#[tokio::test]
async fn a_filter_expression_keeps_the_records_its_clauses_match() {
    let spec = r#"
collections:
  users:
    records:
      - { id: u1, status: ACTIVE, lastUpdated: "2024-01-05T10:00:00.000Z", profile: { email: Ann@Example.com } }
      - { id: u2, status: ACTIVE, lastUpdated: "2024-03-01T00:00:00.000Z", profile: { email: bob@example.com } }
      - { id: u3, status: SUSPENDED, lastUpdated: "2024-06-01T00:00:00.000Z", profile: { email: cy@example.com } }
routes:
  - method: GET
    path: /users
    op: list
    collection: users
    filter_expression:
      param: filter
      attributes: { status: status, lastUpdated: lastUpdated, profile.email: profile.email }
"#;
    let e = start(EmulatorSpec::from_yaml("expr", spec).unwrap()).await.unwrap();
    let ids = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect()
    };
    let get = |filter: &str| {
        let url = format!("{}/users?filter={}", e.base_url(), urlencode(filter));
        async move {
            let r = client().get(url).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (s, body) = get(r#"profile.email eq "ann@example.com""#).await;
    assert_eq!((s, ids(&body)), (200, vec!["u1".to_string()]));
    let (_, body) = get(r#"status eq "ACTIVE" and lastUpdated gt "2024-02-01T00:00:00Z""#).await;
    assert_eq!(ids(&body), ["u2"]);
    // OData's single quotes and bare values read the same.
    let (_, body) = get("lastUpdated ge 2024-03-01T00:00:00Z and status eq 'active'").await;
    assert_eq!(ids(&body), ["u2"]);
    let (_, body) = get(r#"lastUpdated lt "2024-03-01T00:00:00Z""#).await;
    assert_eq!(ids(&body), ["u1"]);
    // Quotes inside values: OData doubles them, Okta escapes them with a backslash.
    let (s, body) = get("profile.email eq 'o''neil@example.com'").await;
    assert_eq!((s, ids(&body).len()), (200, 0));
    let (s, body) = get(r#"profile.email eq "a\"b@example.com" and status eq "ACTIVE""#).await;
    assert_eq!((s, ids(&body).len()), (200, 0));
    // Refused as providers refuse them.
    for bad in [
        r#"department eq "x""#,
        r#"status sw "A""#,
        r#"status eq "ACTIVE" or status eq "X""#,
        "status eq",
    ] {
        let (s, _) = get(bad).await;
        assert_eq!(s, 400, "{bad}");
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

const ARRAY_OPS: &str = r#"
collections:
  people:
    records:
      - { id: 1, name: Ann, secret: x }
      - { id: 2, name: Bob, secret: y }
      - { id: 3, name: Cy, secret: z }
  groups:
    generate_id: sequence
    records:
      - { id: 10, name: Core, members: [{ id: 1, name: Ann }] }
routes:
  - method: POST
    path: /groups
    op: create
    collection: groups
    write:
      array_ops: [{ field: members, add: members, from: people, fields: [id, name] }]
  - method: PUT
    path: "/groups/{id}"
    op: merge
    collection: groups
    write:
      array_ops: [{ field: members, add: members.add, remove: members.rem, from: people, fields: [id, name] }]
"#;

#[tokio::test]
async fn array_ops_turn_ids_into_the_looked_up_records_and_add_or_remove_them() {
    let e = start(EmulatorSpec::from_yaml("array_ops", ARRAY_OPS).unwrap())
        .await
        .unwrap();

    let (status, body, _) = call(
        &e,
        reqwest::Method::POST,
        "/groups",
        Some(json!({"name": "New", "members": [2, 3]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["members"],
        json!([{"id": 2, "name": "Bob"}, {"id": 3, "name": "Cy"}])
    );

    let (status, body, _) = call(
        &e,
        reqwest::Method::PUT,
        "/groups/10",
        Some(json!({"name": "Core team", "members": {"add": [2, 1], "rem": [1]}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Core team");
    assert_eq!(
        body["members"],
        json!([{"id": 2, "name": "Bob"}, {"id": 1, "name": "Ann"}]),
        "removed first, then added back once"
    );

    let (status, body, _) = call(
        &e,
        reqwest::Method::PUT,
        "/groups/10",
        Some(json!({"members": {"add": [], "rem": [2]}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["members"], json!([{"id": 1, "name": "Ann"}]));

    let (status, _, _) = call(
        &e,
        reqwest::Method::PUT,
        "/groups/10",
        Some(json!({"members": {"add": [99], "rem": []}})),
    )
    .await;
    assert_eq!(status, 404, "an id with no record to add");
    assert_eq!(e.records("groups")[0]["members"], json!([{"id": 1, "name": "Ann"}]));
}
