//! The engine against small specs: auth schemes, routing, errors, paging, writes, versions,
//! nested fields and Digest challenges, through [`process`] as the server calls it.

use axum::http::{HeaderMap, Method};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};

use super::process;
use super::routing::percent_decode;
use crate::exchange::Incoming;
use crate::spec::EmulatorSpec;
use crate::state::Shared;

const SPEC: &str = r#"
base_path: /api
credentials: { api_token: secret }
auth:
  - { header: Authorization, value: "Bearer {{credentials.api_token}}" }
  - { query: key, value: "{{credentials.api_token}}" }
  - { basic: { username: "{{credentials.api_token}}", password: x } }
errors:
  default: { body: { error: "{{message}}", status: "{{status}}" } }
  validation: { status: 400, body: { error: invalid, problems: "{{errors}}" } }
  field_error: { body: { name: "{{field}}", why: "{{code}}" }, codes: { too_long: length } }
collections:
  things:
    generate_id: sequence
    version_field: version
    timestamps: { created: created, updated: updated, format: unix }
    records:
      - { id: 1, version: 1, name: one, note: keep }
      - { id: 2, version: 1, name: two }
      - { id: 3, version: 1, name: three }
routes:
  - { method: GET, path: "/things/{id}", op: get, collection: things }
  - method: GET
    path: /things
    op: list
    collection: things
    paginate: { style: cursor, size_param: limit, default_size: 2, envelope: { data: "{{items}}", next: "{{next_cursor}}" } }
  - method: POST
    path: /things
    op: create
    collection: things
    write: { required: [name], fields: { name: { type: string, max_length: 5 } } }
  - method: PUT
    path: /things/{id}
    op: replace
    collection: things
    write: { optimistic_version: true, reject_unknown_fields: true, required: [name], fields: { name: { max_length: 5 } }, read_only: [created] }
  - method: PATCH
    path: /things/{id}
    op: merge
    collection: things
    response: { wrap: thing }
  - { method: DELETE, path: "/things/{id}", op: delete, collection: things }
  - method: GET
    path: /query
    op: render
    when_query: { q: "SELECT Name FROM Thing" }
    response: { body: { answer: things } }
  - method: GET
    path: /query
    op: render
    response: { body: { answer: other } }
"#;

fn shared() -> Shared {
    Shared::new(EmulatorSpec::from_yaml("demo", SPEC).expect("spec"))
}

fn req(method: Method, path_and_query: &str, body: &str, auth: Option<&str>) -> Incoming {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut headers = HeaderMap::new();
    if let Some(a) = auth {
        headers.insert("authorization", a.parse().expect("header"));
    }
    Incoming {
        method,
        path: path.into(),
        query: query.into(),
        headers,
        body: Bytes::from(body.to_owned()),
    }
}

fn call(s: &Shared, method: Method, path: &str, body: &str) -> (u16, Value) {
    let reply = process(s, &req(method, path, body, Some("Bearer secret")));
    let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, body)
}

#[test]
fn auth_is_checked_in_every_accepted_scheme() {
    let s = shared();
    assert_eq!(process(&s, &req(Method::GET, "/api/things/1", "", None)).status, 401);
    assert_eq!(
        process(&s, &req(Method::GET, "/api/things/1", "", Some("Bearer nope"))).status,
        401
    );
    assert_eq!(
        process(&s, &req(Method::GET, "/api/things/1?key=secret", "", None)).status,
        200
    );
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("secret:x"));
    assert_eq!(
        process(&s, &req(Method::GET, "/api/things/1", "", Some(&basic))).status,
        200
    );
}

#[test]
fn when_query_picks_the_route_by_query_parameter() {
    let s = shared();
    let (status, body) = call(&s, Method::GET, "/api/query?q=SELECT+Name+FROM+Thing", "");
    assert_eq!((status, body), (200, json!({"answer": "things"})));
    let (_, body) = call(&s, Method::GET, "/api/query?q=SELECT%20Name%20FROM%20Thing&x=1", "");
    assert_eq!(body, json!({"answer": "things"}));
    let (_, body) = call(&s, Method::GET, "/api/query?q=SELECT+Id+FROM+Thing", "");
    assert_eq!(body, json!({"answer": "other"}));
    let (_, body) = call(&s, Method::GET, "/api/query", "");
    assert_eq!(body, json!({"answer": "other"}));
}

#[test]
fn errors_use_the_default_template_with_the_kind_status() {
    let (status, body) = call(&shared(), Method::GET, "/api/things/9", "");
    assert_eq!(status, 404);
    assert_eq!(body, json!({"error": "Not Found", "status": 404}));
    let (status, _) = call(&shared(), Method::PATCH, "/api/things", "");
    assert_eq!(status, 405);
    let (status, _) = call(&shared(), Method::GET, "/elsewhere", "");
    assert_eq!(status, 404);
}

#[test]
fn a_cursor_list_walks_every_record_once() {
    let s = shared();
    let (_, first) = call(&s, Method::GET, "/api/things", "");
    assert_eq!(first["data"].as_array().map(Vec::len), Some(2));
    let cursor = first["next"].as_str().expect("cursor").to_owned();
    let (_, second) = call(&s, Method::GET, &format!("/api/things?cursor={cursor}"), "");
    assert_eq!(second["data"], json!([{"id": 3, "version": 1, "name": "three"}]));
    assert_eq!(second["next"], Value::Null);
    let (status, _) = call(&s, Method::GET, "/api/things?cursor=garbage", "");
    assert_eq!(status, 400);
}

#[test]
fn create_generates_the_next_id_and_stamps_times() {
    let s = shared();
    let (status, body) = call(&s, Method::POST, "/api/things", r#"{"name":"four","id":77}"#);
    assert_eq!(status, 201);
    assert_eq!(body["id"], 77, "a client id is used when given");
    let (_, body) = call(&s, Method::POST, "/api/things", r#"{"name":"five"}"#);
    assert_eq!(body["id"], 78);
    assert_eq!(body["version"], 0);
    assert!(body["created"].is_i64() && body["updated"].is_i64());
}

#[test]
fn validation_errors_are_rendered_per_field_with_renamed_codes() {
    let (status, body) = call(&shared(), Method::POST, "/api/things", r#"{"name":"toolong"}"#);
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid", "problems": [{"name": "name", "why": "length"}]})
    );
    let (status, _) = call(&shared(), Method::POST, "/api/things", "{not json");
    assert_eq!(status, 400);
}

#[test]
fn replace_checks_the_version_drops_missing_fields_and_bumps_the_version() {
    let s = shared();
    let (status, _) = call(&s, Method::PUT, "/api/things/1", r#"{"version":0,"name":"x"}"#);
    assert_eq!(status, 409);
    let (status, _) = call(
        &s,
        Method::PUT,
        "/api/things/1",
        r#"{"version":1,"name":"x","extra":1}"#,
    );
    assert_eq!(status, 400, "unknown fields fall back to the validation template");
    let (status, body) = call(
        &s,
        Method::PUT,
        "/api/things/1",
        r#"{"version":1,"name":"x","created":5}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(body["version"], 2);
    assert_eq!(body["note"], Value::Null, "PUT drops fields left out");
    assert_ne!(body["created"], 5, "read-only fields keep the stored value");
}

#[test]
fn merge_keeps_other_fields_and_wraps_the_answer() {
    let s = shared();
    let (status, body) = call(&s, Method::PATCH, "/api/things/1", r#"{"name":"uno"}"#);
    assert_eq!(status, 200);
    assert_eq!(body["thing"]["name"], "uno");
    assert_eq!(body["thing"]["note"], "keep");
}

#[test]
fn delete_removes_the_record() {
    let s = shared();
    assert_eq!(call(&s, Method::DELETE, "/api/things/2", "").0, 204);
    assert_eq!(call(&s, Method::GET, "/api/things/2", "").0, 404);
}

#[test]
fn percent_escapes_in_paths_are_decoded() {
    assert_eq!(percent_decode("a%20b%2"), "a b%2");
}

const KEYSET_SPEC: &str = r#"
credentials: { api_token: secret }
auth: [{ header: Authorization, value: "Bearer {{credentials.api_token}}" }]
errors:
  not_found: { content_type: text/plain; charset=utf-8, body: "model not found" }
collections:
  orgs:
    records: [{ id: 10, name: a }, { id: 20, name: b }, { id: 30, name: c }]
routes:
  - { method: GET, path: "/orgs/{id}", op: get, collection: orgs }
  - method: GET
    path: /orgs
    op: list
    collection: orgs
    paginate: { style: cursor, cursor_param: after, cursor_field: id, size_param: pageSize, default_size: 2 }
  - method: GET
    path: /linked
    op: list
    collection: orgs
    paginate: { style: cursor, cursor_param: "page[after]", cursor_field: id, size_param: "page[size]", default_size: 2, envelope: { items: "{{items}}", next: "{{next_url}}" } }
"#;

#[test]
fn a_keyset_cursor_continues_after_the_named_record() {
    let s = Shared::new(EmulatorSpec::from_yaml("keyset", KEYSET_SPEC).expect("spec"));
    let (_, first) = call(&s, Method::GET, "/orgs", "");
    assert_eq!(first, json!([{"id": 10, "name": "a"}, {"id": 20, "name": "b"}]));
    let (_, second) = call(&s, Method::GET, "/orgs?after=20", "");
    assert_eq!(second, json!([{"id": 30, "name": "c"}]));
    assert_eq!(call(&s, Method::GET, "/orgs?after=99", "").0, 400);
}

#[test]
fn next_url_links_the_next_page_in_the_body_and_is_null_on_the_last() {
    let s = Shared::new(EmulatorSpec::from_yaml("keyset", KEYSET_SPEC).expect("spec"));
    let mut incoming = req(Method::GET, "/linked", "", Some("Bearer secret"));
    incoming.headers.insert("host", "emu.test".parse().expect("host"));
    let first: Value = serde_json::from_slice(&process(&s, &incoming).body).expect("json");
    assert_eq!(first["next"], "http://emu.test/linked?page%5Bafter%5D=20");
    let (_, last) = call(&s, Method::GET, "/linked?page%5Bafter%5D=20", "");
    assert_eq!(last["next"], Value::Null);
}

#[test]
fn a_text_error_template_sends_its_body_unquoted() {
    let s = Shared::new(EmulatorSpec::from_yaml("keyset", KEYSET_SPEC).expect("spec"));
    let reply = process(&s, &req(Method::GET, "/orgs/99", "", Some("Bearer secret")));
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body, b"model not found".to_vec());
    assert_eq!(reply.content_type.as_deref(), Some("text/plain; charset=utf-8"));
}

/// Contentful-like: ids, versions and dates nested in `sys`, the version in a header,
/// the page size in a `Prefer` header, links built from the emulator's own URL.
const NESTED_SPEC: &str = r#"
base_path: /v2
collections:
  orgs:
    id_field: sys.id
    generate_id: none
    version_field: sys.version
    timestamps: { updated: sys.updatedAt, format: unix }
    records:
      - { name: Acme, sys: { id: a1, version: 4, updatedAt: 1 } }
      - { name: Globex, sys: { id: g2, version: 1, updatedAt: 1 } }
      - { name: Initech, sys: { id: i3, version: 1, updatedAt: 1 } }
routes:
  - { method: GET, path: "/orgs/{id}", op: get, collection: orgs }
  - method: PUT
    path: /orgs/{id}
    op: replace
    collection: orgs
    write: { required: [name], read_only: [sys], optimistic_version: true, version_header: X-Version }
  - method: GET
    path: /orgs
    op: list
    collection: orgs
    paginate:
      style: cursor
      cursor_param: $skiptoken
      size_param: top
      size_header: { name: Prefer, key: odata.maxpagesize }
      default_size: 50
      envelope: { context: "{{base_url}}/$metadata", value: "{{items}}", next: "{{next_url}}" }
"#;

fn with_headers(mut incoming: Incoming, headers: &[(&'static str, &str)]) -> Incoming {
    for (name, value) in headers {
        incoming.headers.append(*name, value.parse().expect("header"));
    }
    incoming
}

fn answer(s: &Shared, incoming: &Incoming) -> (u16, Value) {
    let reply = process(s, incoming);
    (reply.status, serde_json::from_slice(&reply.body).unwrap_or(Value::Null))
}

#[test]
fn dotted_id_version_and_timestamp_fields_address_and_update_nested_values() {
    let s = Shared::new(EmulatorSpec::from_yaml("nested", NESTED_SPEC).expect("spec"));
    assert_eq!(call(&s, Method::GET, "/v2/orgs/g2", "").1["name"], "Globex");

    let put = with_headers(
        req(
            Method::PUT,
            "/v2/orgs/a1",
            r#"{"name": "Acme 2", "sys": {"id": "hijack", "version": 99}}"#,
            None,
        ),
        &[("x-version", "4")],
    );
    let (status, body) = answer(&s, &put);

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Acme 2");
    assert_eq!(body["sys"]["id"], "a1", "the client cannot touch `sys`");
    assert_eq!(body["sys"]["version"], 5);
    assert!(body["sys"]["updatedAt"].as_i64().expect("stamped") > 1);
    assert_eq!(call(&s, Method::GET, "/v2/orgs/a1", "").1["sys"]["version"], 5);
}

#[test]
fn a_version_header_must_name_the_current_version() {
    let s = Shared::new(EmulatorSpec::from_yaml("nested", NESTED_SPEC).expect("spec"));
    let body = r#"{"name": "Acme 2"}"#;
    let stale = with_headers(req(Method::PUT, "/v2/orgs/a1", body, None), &[("x-version", "3")]);
    assert_eq!(answer(&s, &stale).0, 409);
    assert_eq!(
        answer(&s, &req(Method::PUT, "/v2/orgs/a1", body, None)).0,
        409,
        "missing header"
    );
    let current = with_headers(req(Method::PUT, "/v2/orgs/a1", body, None), &[("x-version", "4")]);
    assert_eq!(answer(&s, &current).0, 200);
    assert_eq!(answer(&s, &current).0, 409, "the version moved on");
}

#[test]
fn the_page_size_can_come_from_a_prefer_header_and_links_use_the_emulators_url() {
    let s = Shared::new(EmulatorSpec::from_yaml("nested", NESTED_SPEC).expect("spec"));
    let first = with_headers(
        req(Method::GET, "/v2/orgs", "", None),
        &[
            ("host", "emu.test:8080"),
            ("prefer", "return=representation"),
            ("prefer", "odata.include-annotations=\"*\", odata.maxpagesize=2"),
        ],
    );
    let (_, page) = answer(&s, &first);
    assert_eq!(page["context"], "http://emu.test:8080/v2/$metadata");
    assert_eq!(page["value"].as_array().expect("items").len(), 2);
    let next = page["next"].as_str().expect("a next link");
    let (path, query) = next
        .strip_prefix("http://emu.test:8080")
        .expect("back to this emulator")
        .split_once('?')
        .expect("query");
    assert_eq!(path, "/v2/orgs");
    assert!(query.starts_with("%24skiptoken="), "{query}");

    let second = with_headers(
        req(Method::GET, &format!("{path}?{query}"), "", None),
        &[("prefer", "odata.maxpagesize=2")],
    );
    let (_, page) = answer(&s, &second);
    assert_eq!(
        page["value"],
        json!([{"name": "Initech", "sys": {"id": "i3", "version": 1, "updatedAt": 1}}])
    );
    assert_eq!(page["next"], Value::Null);
    // Without the preference, the size parameter or the default applies.
    assert_eq!(
        call(&s, Method::GET, "/v2/orgs?top=1", "").1["value"]
            .as_array()
            .expect("items")
            .len(),
        1
    );
    assert_eq!(
        call(&s, Method::GET, "/v2/orgs", "").1["value"]
            .as_array()
            .expect("items")
            .len(),
        3
    );
}

const DIGEST_SPEC: &str = r#"
credentials: { public: pubkey, private: privkey }
auth:
  - digest: { username: "{{credentials.public}}", password: "{{credentials.private}}", realm: Test Realm, algorithm: SHA-256 }
collections:
  things:
    records: [{ id: "1" }]
routes:
  - { method: GET, path: "/things/{id}", op: get, collection: things }
"#;

#[test]
fn a_digest_scheme_challenges_and_accepts_only_a_fresh_valid_answer() {
    let s = Shared::new(EmulatorSpec::from_yaml("digest", DIGEST_SPEC).expect("spec"));
    let bare = process(&s, &req(Method::GET, "/things/1", "", None));
    assert_eq!(bare.status, 401);
    let challenge = bare
        .headers
        .iter()
        .find(|(n, _)| n == "www-authenticate")
        .map(|(_, v)| v.clone())
        .expect("a challenge");
    assert!(
        challenge.contains("algorithm=SHA-256") && challenge.contains("stale=false"),
        "{challenge}"
    );

    let respond = |password: &str, uri: &str| {
        let mut prompt = digest_auth::parse(&challenge).expect("parses");
        prompt
            .respond(&digest_auth::AuthContext::new("pubkey", password, uri))
            .expect("answer")
            .to_string()
    };
    let good = respond("privkey", "/things/1");
    assert_eq!(process(&s, &req(Method::GET, "/things/1", "", Some(&good))).status, 200);
    let wrong = respond("nope", "/things/1");
    let refused = process(&s, &req(Method::GET, "/things/1", "", Some(&wrong)));
    assert_eq!(refused.status, 401);
    assert!(refused
        .headers
        .iter()
        .any(|(n, v)| n == "www-authenticate" && v.contains("stale=false")));

    // A right answer to a nonce the emulator forgot (or never issued) is stale.
    let nonce = digest_auth::parse(&challenge).expect("parses").nonce;
    let mut prompt = digest_auth::parse(&challenge.replace(&nonce, "0000")).expect("parses");
    let unknown_nonce = prompt
        .respond(&digest_auth::AuthContext::new("pubkey", "privkey", "/things/1"))
        .expect("answer")
        .to_string();
    let stale = process(&s, &req(Method::GET, "/things/1", "", Some(&unknown_nonce)));
    assert_eq!(stale.status, 401);
    assert!(stale
        .headers
        .iter()
        .any(|(n, v)| n == "www-authenticate" && v.contains("stale=true")));
}

const MEMBERS: &str = r#"
collections:
  people:
    records: [{ id: p1, name: Ada }, { id: p2, name: Alan }]
  members:
    id_field: key
    records: [{ key: "g1:p1", group: g1, id: p1, name: Ada }]
routes:
  - { method: GET, path: "/groups/{g}/members", op: list, collection: members, filter: { group: "{{params.g}}" }, response: { omit: [key, group, "@odata.id", op, type] } }
  - method: PUT
    path: "/groups/{g}/members/{p}"
    op: create
    collection: members
    write:
      copy_from: { collection: people, id: "{{params.p}}" }
      set: { key: "{{params.g}}:{{record.id}}", group: "{{params.g}}" }
    response: { status: 204 }
  - method: POST
    path: "/groups/{g}/refs"
    op: create
    collection: members
    write:
      copy_from: { collection: people, id_body_field: "@odata.id" }
      set: { key: "{{params.g}}:{{record.id}}", group: "{{params.g}}" }
    response: { status: 204 }
  - { method: DELETE, path: "/groups/{g}/members/{p}", op: delete, collection: members, id_template: "{{params.g}}:{{params.p}}" }
  - method: POST
    path: "/groups/{g}/edges"
    when_body: { op: add }
    op: create
    collection: members
    write:
      copy_from: { collection: people, id: "{{body.id}}" }
      set: { key: "{{params.g}}:{{record.id}}", group: "{{params.g}}" }
    response: { status: 204 }
  - { method: POST, path: "/groups/{g}/edges", when_body: { op: remove }, op: delete, collection: members, id_template: "{{params.g}}:{{body.id}}" }
"#;

#[test]
fn memberships_copy_the_member_and_are_addressed_by_two_path_parameters() {
    let s = Shared::new(EmulatorSpec::from_yaml("members", MEMBERS).expect("spec"));
    let list = |g: &str| call(&s, Method::GET, &format!("/groups/{g}/members"), "").1;

    assert_eq!(call(&s, Method::PUT, "/groups/g2/members/p2", "").0, 204);
    assert_eq!(list("g2"), json!([{"id": "p2", "name": "Alan"}]));
    let body = r#"{"@odata.id": "https://graph.example/v1.0/directoryObjects/p2"}"#;
    assert_eq!(call(&s, Method::POST, "/groups/g1/refs", body).0, 204);
    assert_eq!(
        list("g1"),
        json!([{"id": "p1", "name": "Ada"}, {"id": "p2", "name": "Alan"}])
    );
    assert_eq!(call(&s, Method::PUT, "/groups/g1/members/nobody", "").0, 404);

    assert_eq!(call(&s, Method::DELETE, "/groups/g1/members/p1", "").0, 204);
    assert_eq!(list("g1"), json!([{"id": "p2", "name": "Alan"}]));
    assert_eq!(
        list("g2"),
        json!([{"id": "p2", "name": "Alan"}]),
        "the other group keeps its member"
    );
    assert_eq!(call(&s, Method::DELETE, "/groups/g1/members/p1", "").0, 404);
}

#[test]
fn when_body_picks_the_route_by_a_body_field_and_id_templates_read_the_body() {
    let s = Shared::new(EmulatorSpec::from_yaml("members", MEMBERS).expect("spec"));
    let list = |g: &str| call(&s, Method::GET, &format!("/groups/{g}/members"), "").1;

    let add = r#"{"op": "add", "type": "user", "id": "p2"}"#;
    assert_eq!(call(&s, Method::POST, "/groups/g3/edges", add).0, 204);
    assert_eq!(list("g3"), json!([{"id": "p2", "name": "Alan"}]));
    let remove = r#"{"op": "remove", "type": "user", "id": "p2"}"#;
    assert_eq!(call(&s, Method::POST, "/groups/g3/edges", remove).0, 204);
    assert_eq!(list("g3"), json!([]));
    assert_eq!(call(&s, Method::POST, "/groups/g3/edges", remove).0, 404);
    let other = r#"{"op": "update", "id": "p2"}"#;
    assert_eq!(
        call(&s, Method::POST, "/groups/g3/edges", other).0,
        404,
        "no route takes another op"
    );
}

const FORM_SPEC: &str = r#"
collections:
  users:
    generate_id: sequence
    records:
      - { id: "100", email: a@x.test, role: admin }
routes:
  - method: POST
    path: /users
    op: create
    collection: users
    body_format: form
    write: { required: [email], reject_unknown_fields: true, fields: { email: { type: string }, role: { enum: [admin, employee] }, tags: { type: array }, profile: { type: object } } }
  - method: PATCH
    path: /users/{id}
    op: merge
    collection: users
    body_format: json
"#;

fn form_req(method: Method, path: &str, body: &str) -> Incoming {
    let mut r = req(method, path, body, None);
    r.headers.insert(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8"
            .parse()
            .expect("header"),
    );
    r
}

#[test]
fn a_form_body_is_read_as_its_fields_with_brackets_expanded() {
    let s = Shared::new(EmulatorSpec::from_yaml("form", FORM_SPEC).expect("spec"));

    let reply = process(
        &s,
        &form_req(
            Method::POST,
            "/users",
            "email=b%40x.test&role=employee&tags[]=p&tags[]=q&profile[name]=B+X",
        ),
    );

    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    let created: Value = serde_json::from_slice(&reply.body).expect("json");
    assert_eq!(
        created,
        json!({"id": "101", "email": "b@x.test", "role": "employee", "tags": ["p", "q"], "profile": {"name": "B X"}})
    );
    // Field rules apply to form fields as to JSON ones.
    let refused = process(&s, &form_req(Method::POST, "/users", "email=c%40x.test&role=owner"));
    assert_eq!(refused.status, 422, "{}", String::from_utf8_lossy(&refused.body));
}

#[test]
fn a_route_refuses_a_body_in_the_other_encoding() {
    let s = Shared::new(EmulatorSpec::from_yaml("form", FORM_SPEC).expect("spec"));

    let json_to_form = process(&s, &req(Method::POST, "/users", r#"{"email": "b@x.test"}"#, None));
    let form_to_json = process(&s, &form_req(Method::PATCH, "/users/100", "role=employee"));

    assert_eq!(json_to_form.status, 400);
    assert!(String::from_utf8_lossy(&json_to_form.body).contains("application/x-www-form-urlencoded"));
    assert_eq!(form_to_json.status, 400);
    assert_eq!(s.lock().collections["users"].records.len(), 1);
}

const SCIM_SPEC: &str = r#"
collections:
  people:
    records:
      - { id: p1, displayName: Ann, type: person, email: ann@x.test }
      - { id: p2, displayName: Bo, type: person, email: bo@x.test }
  groups:
    records:
      - { id: g1, displayName: Sales, members: [{ id: p1, displayName: Ann, type: person }] }
routes:
  - method: PATCH
    path: /groups/{id}
    op: merge
    collection: groups
    write:
      scim_patch: true
      fields: { displayName: { type: string, min_length: 1 } }
      array_ops:
        - { field: members, add: $add.members, remove: $remove.members, from: people, fields: [id, displayName, type] }
"#;

fn scim(s: &Shared, operations: Value) -> (u16, Value) {
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
    call(s, Method::PATCH, "/groups/g1", &body.to_string())
}

#[test]
fn a_scim_patch_op_replaces_attributes_and_adds_and_removes_members() {
    let s = Shared::new(EmulatorSpec::from_yaml("scim", SCIM_SPEC).expect("spec"));

    let (status, added) = scim(
        &s,
        json!([{"op": "replace", "path": "displayName", "value": "Sales EMEA"},
               {"op": "add", "path": "members", "value": [{"value": "p2"}]}]),
    );
    let (_, removed) = scim(&s, json!([{"op": "remove", "path": "members[value eq \"p1\"]"}]));

    assert_eq!(status, 200, "{added}");
    assert_eq!(
        added,
        json!({"id": "g1", "displayName": "Sales EMEA", "members": [
            {"id": "p1", "displayName": "Ann", "type": "person"},
            {"id": "p2", "displayName": "Bo", "type": "person"}]})
    );
    assert_eq!(
        removed["members"],
        json!([{"id": "p2", "displayName": "Bo", "type": "person"}])
    );
}

#[test]
fn a_body_that_is_not_a_patch_op_or_an_unknown_member_is_refused() {
    let s = Shared::new(EmulatorSpec::from_yaml("scim", SCIM_SPEC).expect("spec"));

    let (plain, _) = call(&s, Method::PATCH, "/groups/g1", r#"{"displayName": "X"}"#);
    let (bad_op, _) = scim(&s, json!([{"op": "move", "path": "members"}]));
    let (unknown, _) = scim(
        &s,
        json!([{"op": "add", "path": "members", "value": [{"value": "p9"}]}]),
    );

    assert_eq!((plain, bad_op, unknown), (422, 422, 404));
    assert_eq!(s.lock().collections["groups"].records["g1"]["displayName"], "Sales");
}

const ROLES_SPEC: &str = r#"
collections:
  users:
    records:
      - { id: u1, username: ann@x.test, roles: { orgRoles: [ORG_MEMBER], groupRoleAssignments: [] } }
routes:
  - method: POST
    path: "/users/{userId}:addRole"
    op: merge
    collection: users
    write:
      reject_unknown_fields: true
      required: [orgRole]
      fields: { orgRole: { type: string, enum: [ORG_OWNER, ORG_MEMBER, ORG_READ_ONLY] } }
      array_ops: [{ field: roles.orgRoles, add: orgRole }]
  - method: POST
    path: "/users/{userId}:removeRole"
    op: merge
    collection: users
    write:
      reject_unknown_fields: true
      required: [orgRole]
      array_ops: [{ field: roles.orgRoles, remove: orgRole, min_items: 1 }]
"#;

#[test]
fn a_value_array_takes_one_value_added_or_removed_and_keeps_its_minimum() {
    let s = Shared::new(EmulatorSpec::from_yaml("roles", ROLES_SPEC).expect("spec"));

    let (added, user) = call(&s, Method::POST, "/users/u1:addRole", r#"{"orgRole": "ORG_OWNER"}"#);
    let (again, _) = call(&s, Method::POST, "/users/u1:addRole", r#"{"orgRole": "ORG_OWNER"}"#);
    let (removed, after) = call(&s, Method::POST, "/users/u1:removeRole", r#"{"orgRole": "ORG_MEMBER"}"#);
    let (last, _) = call(&s, Method::POST, "/users/u1:removeRole", r#"{"orgRole": "ORG_OWNER"}"#);
    let (unknown_role, _) = call(&s, Method::POST, "/users/u1:addRole", r#"{"orgRole": "ORG_KING"}"#);

    assert_eq!((added, again, removed), (200, 200, 200));
    assert_eq!(
        user,
        json!({"id": "u1", "username": "ann@x.test",
               "roles": {"orgRoles": ["ORG_MEMBER", "ORG_OWNER"], "groupRoleAssignments": []}})
    );
    assert_eq!(after["roles"]["orgRoles"], json!(["ORG_OWNER"]));
    assert_eq!((last, unknown_role), (422, 422));
    assert_eq!(
        s.lock().collections["users"].records["u1"]["roles"]["orgRoles"],
        json!(["ORG_OWNER"])
    );
}

#[test]
fn a_value_array_op_cannot_keep_fields_of_a_record() {
    let spec = ROLES_SPEC.replace("add: orgRole }", "add: orgRole, fields: [id] }");

    let refused = EmulatorSpec::from_yaml("roles", &spec)
        .map(|_| ())
        .expect_err("refused");

    assert!(
        refused.to_string().contains("`fields` and `with` need `from`"),
        "{refused}"
    );
}

const ASSIGNMENTS_SPEC: &str = r#"
collections:
  members:
    records:
      - { id: m1, role_assignments: { organization: [{ role_id: admin, organization_id: o1 }] } }
routes:
  - method: POST
    path: "/users/{id}/role_assignments"
    op: merge
    collection: members
    write:
      array_ops:
        - { field: role_assignments.organization, add: organization }
        - { field: role_assignments.deployment, add: deployment }
"#;

#[test]
fn object_values_compare_whole_and_an_op_the_body_leaves_out_adds_no_array() {
    let s = Shared::new(EmulatorSpec::from_yaml("assignments", ASSIGNMENTS_SPEC).expect("spec"));
    let body = r#"{"organization": [{"role_id": "admin", "organization_id": "o1"},
                                    {"role_id": "billing", "organization_id": "o1"}]}"#;

    let (status, member) = call(&s, Method::POST, "/users/m1/role_assignments", body);

    assert_eq!(status, 200, "{member}");
    assert_eq!(
        member["role_assignments"],
        json!({"organization": [{"role_id": "admin", "organization_id": "o1"},
                                {"role_id": "billing", "organization_id": "o1"}]})
    );
}

const DELEGATED_SPEC: &str = r#"
credentials: { client_id: app, client_secret: s3cret }
auth:
  - { header: Authorization, oauth: "Bearer " }
errors:
  bad_request: { body: { error: { code: BadRequest, message: "{{message}}" } } }
oauth:
  token_path: /token
  authorize_path: /authorize
  client_id: "{{credentials.client_id}}"
  client_secret: "{{credentials.client_secret}}"
  grants: [client_credentials, authorization_code, refresh_token]
collections:
  people:
    records:
      - { id: u1, displayName: Ann }
routes:
  - method: GET
    path: /me
    op: get
    collection: people
    id_template: u1
    delegated_only: "/me request is only valid with delegated authentication flow."
  - { method: GET, path: "/people/{id}", op: get, collection: people }
"#;

#[test]
fn a_delegated_only_route_refuses_an_application_token_and_answers_a_users() {
    let s = Shared::new(EmulatorSpec::from_yaml("graph", DELEGATED_SPEC).expect("spec"));
    let app_token = process(
        &s,
        &form_req(
            Method::POST,
            "/token",
            "grant_type=client_credentials&client_id=app&client_secret=s3cret",
        ),
    );
    let app_token: Value = serde_json::from_slice(&app_token.body).expect("token answer");
    let app_bearer = format!("Bearer {}", app_token["access_token"].as_str().expect("token"));
    let user_bearer = {
        let spec = s.spec.file.oauth.as_ref().expect("oauth");
        format!("Bearer {}", s.lock().oauth.issue(spec, true).access_token)
    };

    let as_app = process(&s, &req(Method::GET, "/me", "", Some(&app_bearer)));
    let as_user = process(&s, &req(Method::GET, "/me", "", Some(&user_bearer)));
    let other_route = process(&s, &req(Method::GET, "/people/u1", "", Some(&app_bearer)));

    assert_eq!(as_app.status, 400);
    assert_eq!(
        serde_json::from_slice::<Value>(&as_app.body).expect("json"),
        json!({"error": {"code": "BadRequest", "message": "/me request is only valid with delegated authentication flow."}})
    );
    assert_eq!(as_user.status, 200);
    assert_eq!(other_route.status, 200);
}

const TEAM_ROLE_SPEC: &str = r#"
collections:
  users:
    records:
      - { id: "7", name: Ann, teamIds: [1] }
routes:
  - method: POST
    path: "/users/{userId}/teams/{teamId}"
    id_param: userId
    when_body: { role: member }
    op: merge
    collection: users
    write: { fields: { role: { type: string } }, read_only: [role], array_ops: [{ field: teamIds, add: $params.teamId }] }
  - method: POST
    path: "/users/{userId}/teams/{teamId}"
    id_param: userId
    op: merge
    collection: users
    write: { reject_unknown_fields: true, array_ops: [{ field: teamIds, remove: $params.teamId }] }
"#;

#[test]
fn an_array_op_takes_its_id_from_a_path_parameter() {
    let s = Shared::new(EmulatorSpec::from_yaml("teams", TEAM_ROLE_SPEC).expect("spec"));

    let (added, user) = call(&s, Method::POST, "/users/7/teams/4", r#"{"role": "member"}"#);
    let (removed, after) = call(&s, Method::POST, "/users/7/teams/1", "{}");

    assert_eq!((added, removed), (200, 200));
    assert_eq!(user, json!({"id": "7", "name": "Ann", "teamIds": [1, "4"]}));
    assert_eq!(after["teamIds"], json!(["4"]));
}

const SPLIT_SPEC: &str = r#"
collections:
  people:
    records:
      - { id: 1, name: Ann }
      - { id: 2, name: Bo }
  teams:
    records:
      - { id: t1, members: [{ id: "1", type: users }] }
routes:
  - method: PUT
    path: "/teams/{id}"
    op: merge
    collection: teams
    write:
      unwrap: team
      array_ops: [{ field: members, add: userIds, split: ",", from: people, fields: [id], with: { type: users } }]
"#;

#[test]
fn a_split_id_list_adds_looked_up_elements_with_fixed_fields() {
    let s = Shared::new(EmulatorSpec::from_yaml("split", SPLIT_SPEC).expect("spec"));

    let (status, team) = call(&s, Method::PUT, "/teams/t1", r#"{"team": {"userIds": "1, 2,"}}"#);
    let (unknown, _) = call(&s, Method::PUT, "/teams/t1", r#"{"team": {"userIds": "3"}}"#);

    assert_eq!((status, unknown), (200, 404));
    assert_eq!(
        team["members"],
        json!([{"id": "1", "type": "users"}, {"id": 2, "type": "users"}])
    );
}

const SEARCH_SPEC: &str = r#"
credentials: { api_token: secret }
auth: [{ header: Authorization, value: "Bearer {{credentials.api_token}}" }]
errors:
  validation:
    status: 400
    message: "Invalid Input: {{field}}"
    body: { error: { code: 400, message: "{{message}}", errors: "{{errors}}" } }
  field_error: { body: { message: "{{message}}", domain: global, reason: invalid, location: "{{field}}" } }
collections:
  users:
    records:
      - { id: "1", name: { givenName: Mary Ann }, emails: [{ address: mary@x.io }], suspended: false }
      - { id: "2", name: { givenName: Annie }, emails: [{ address: annie@x.io }], suspended: true }
routes:
  - method: GET
    path: /users
    op: list
    collection: users
    search_query:
      param: query
      fields: { givenName: [name.givenName], email: [emails.address], isSuspended: [suspended] }
"#;

#[test]
fn a_search_query_keeps_the_records_every_clause_matches() {
    let s = Shared::new(EmulatorSpec::from_yaml("search", SEARCH_SPEC).expect("spec"));
    let ids = |path: &str| -> Vec<Value> {
        let (status, body) = call(&s, Method::GET, path, "");
        assert_eq!(status, 200, "{path}: {body}");
        body.as_array().expect("list").iter().map(|u| u["id"].clone()).collect()
    };
    assert_eq!(ids("/users"), vec![json!("1"), json!("2")]);
    assert_eq!(ids("/users?query=givenName:ann"), vec![json!("1")]);
    assert_eq!(ids("/users?query=givenName:ann*"), vec![json!("1"), json!("2")]);
    assert_eq!(ids("/users?query=givenName:ann*%20isSuspended=true"), vec![json!("2")]);
    assert_eq!(
        ids("/users?query=givenName:%27Mary%20Ann%27%20email:MARY@x.io"),
        vec![json!("1")]
    );
}

#[test]
fn a_malformed_search_query_is_googles_invalid_input() {
    let s = Shared::new(EmulatorSpec::from_yaml("search", SEARCH_SPEC).expect("spec"));
    let (status, body) = call(&s, Method::GET, "/users?query=lastName:Smith", "");
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": {"code": 400, "message": "Invalid Input: query", "errors": [
            {"message": "Invalid Input", "domain": "global", "reason": "invalid", "location": "query"}
        ]}})
    );
}

const OTHER_HOST_SPEC: &str = r#"
base_path: /api
collections:
  events:
    records:
      - { id: e1, sort: [1714557600000, "e1"] }
      - { id: e2, sort: [1714471200000, "e2"] }
      - { id: e3, sort: [1714384800000, "e3"] }
routes:
  - { method: GET, path: "/events", op: list, collection: events }
  - method: POST
    base_path: /insights/v1
    path: /events
    op: list
    collection: events
    response: { fields: [id] }
    paginate:
      style: cursor
      params_in: body
      size_param: limit
      cursor_param: search_after
      cursor_field: sort
      default_size: 2
      headers: { X-Search_after: "{{next_cursor}}" }
"#;

#[test]
fn a_route_with_its_own_base_path_pages_by_a_json_cursor_in_the_body() {
    let s = Shared::new(EmulatorSpec::from_yaml("other-host", OTHER_HOST_SPEC).expect("spec"));
    // The file's routes stay under the file's base path only.
    assert_eq!(call(&s, Method::GET, "/api/events", "").0, 200);
    assert_eq!(call(&s, Method::POST, "/api/events", "").0, 405);
    assert_eq!(call(&s, Method::POST, "/events", "").0, 404);
    let first = process(&s, &req(Method::POST, "/insights/v1/events", "{}", None));
    assert_eq!(first.status, 200);
    let header = |r: &crate::exchange::Reply| {
        r.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-search_after"))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header(&first).as_deref(), Some(r#"[1714471200000,"e2"]"#));
    let body: Value = serde_json::from_slice(&first.body).expect("json");
    assert_eq!(body, json!([{"id": "e1"}, {"id": "e2"}]));
    let (status, second) = call(
        &s,
        Method::POST,
        "/insights/v1/events",
        r#"{"limit": 2, "search_after": [1714471200000, "e2"]}"#,
    );
    assert_eq!((status, second), (200, json!([{"id": "e3"}])));
    let unknown = r#"{"search_after": [1, "nope"]}"#;
    assert_eq!(call(&s, Method::POST, "/insights/v1/events", unknown).0, 400);
}
