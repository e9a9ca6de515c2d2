//! `remote_data` of a unified `get` and of each record of a list: written from the provider's
//! bytes when the mapping leaves it alone, the usual shaping when the mapping writes one of its
//! own or the records are not simply an array of objects at a path of names.

use serde_json::json;

use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with};

/// A provider `name` whose one resource, `items`, has the method `method` (`get` or `list`)
/// as `definition` (a YAML map), served by the emulator's `route` and mapped to
/// organizations by `mapping`.
async fn items_provider(
    name: &str,
    method: &str,
    definition: &str,
    route: &str,
    mapping: &str,
) -> crate::custom::CustomProvider {
    let rest = format!("resources:\n  items:\n    {method}: {definition}\n");
    let p = custom_provider(
        name,
        &integration_yaml(name, "https://api.items.example", &rest),
        &emulator_yaml(2, route),
    )
    .await;
    let unified = format!(
        "organizations:\n  {method}:\n    resource: items.{method}\n    response_mapping: >-\n      {mapping}\n"
    );
    std::fs::write(
        p.dir.path().join("integrations").join(name).join("user-directory.yaml"),
        unified,
    )
    .unwrap();
    p
}

/// A provider whose `GET /items/{id}` is the emulator's `op`, mapped by `mapping`.
async fn provider(name: &str, op: &str, mapping: &str) -> crate::custom::CustomProvider {
    let route = format!("  - {{ method: GET, path: \"/items/{{id}}\", op: {op}, collection: items }}\n");
    items_provider(name, "get", "{ method: get, path: \"/items/{{id}}\" }", &route, mapping).await
}

/// The unified `get` of organization `id` through a gateway with one account on `p`;
/// `query` is appended to the query string.
async fn get_organization(p: &crate::custom::CustomProvider, id: &str, query: &str) -> crate::helpers::Reply {
    let app = spawn_with(p, true, |_| {}).await;
    let account = crate::custom::connect(&app, p, json!({})).await;
    app.get(&format!(
        "/unified/user-directory/organizations/{id}?integrated_account_id={account}{query}"
    ))
    .await
}

#[tokio::test]
async fn a_mapping_that_writes_remote_data_gets_the_provider_record_there_as_before() {
    let p = provider(
        "remote-own",
        "get",
        r#"{ "remote_data": "mine", "id": response.id, "name": response.name }"#,
    )
    .await;
    let r = get_organization(&p, "2", "").await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({ "remote_data": { "id": "2", "name": "item 2" }, "id": "2", "name": "item 2" })
    );
    let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["remote_data", "id", "name"]);
}

#[tokio::test]
async fn a_mapping_reading_the_whole_record_sees_all_of_it() {
    let p = provider(
        "remote-whole",
        "get",
        r#"{ "id": response.id, "keys": $keys(response), "copy": response }"#,
    )
    .await;
    let r = get_organization(&p, "1", "&truto_exclude_fields[]=copy.name").await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({ "id": "1", "keys": ["id", "name"], "copy": { "id": "1" }, "remote_data": { "id": "1", "name": "item 1" } })
    );
}

#[tokio::test]
async fn an_empty_answer_is_a_502_when_parsing_only_what_the_mapping_reads() {
    // The emulator's delete answers 204 with no body: a provider that answers a read with
    // nothing. That is a broken answer, not "no such record" (which would tell a syncing
    // client to delete it).
    let p = provider("remote-empty", "delete", r#"{ "id": response.id }"#).await;
    let r = get_organization(&p, "1", "").await;

    let msg = crate::helpers::assert_error(&r, 502);
    assert!(msg.contains("empty body where a record was expected"), "{msg}");
}

/// A provider whose `GET /items` answers `page` as written, listed as organizations through
/// `response_path` and `mapping`, and the gateway with one account on it; the path of the
/// list, which a test's query is appended to.
async fn list_answering(
    name: &str,
    response_path: &str,
    mapping: &str,
    page: &str,
) -> (crate::custom::CustomProvider, crate::helpers::TestApp, String) {
    let definition = format!("{{ method: get, path: /items, response_path: '{response_path}' }}");
    let route = "  - { method: GET, path: /items, op: list, collection: items }\n";
    let p = items_provider(name, "list", &definition, route, mapping).await;
    p.emulator.inject(
        unigate_emulator::Fault::respond(200, json!({}))
            .with_raw_body(page)
            .on("GET", "/items"),
    );
    let app = spawn_with(&p, true, |_| {}).await;
    let account = crate::custom::connect(&app, &p, json!({})).await;
    let path = format!("/unified/user-directory/organizations?integrated_account_id={account}");
    (p, app, path)
}

/// The list's mapping in most of these tests.
const ID_AND_NAME: &str = r#"{ "id": response.id, "name": response.name }"#;

/// Two records as a provider may write them: number spellings serde_json would change, an
/// escape, a key order of its own, one record over two lines; beside them a decoy `items`.
const PAGE: &str = "{\"data\": {\"total\": 2, \"items\": [\n  {\"id\": \"1\", \"name\": \"one\", \"n\": 1.50, \"big\": 123456789012345678901234567890, \"s\": \"caf\\u00e9\"},\n  {\"name\": \"two\",\n   \"id\": \"2\", \"e\": 1e2}\n]}, \"items\": [{\"id\": \"decoy\"}]}";
const RECORD_1: &str =
    "{\"id\": \"1\", \"name\": \"one\", \"n\": 1.50, \"big\": 123456789012345678901234567890, \"s\": \"caf\\u00e9\"}";
const RECORD_2: &str = "{\"name\": \"two\",\n   \"id\": \"2\", \"e\": 1e2}";

#[tokio::test]
async fn each_listed_records_remote_data_is_its_bytes_in_the_providers_page() {
    let (_p, app, path) = list_answering("list-bytes", "response.data.items", ID_AND_NAME, PAGE).await;

    let r = app.get(&path).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        r.text,
        format!(
            "{{\"result\":[{{\"id\":\"1\",\"name\":\"one\",\"remote_data\":{RECORD_1}}},{{\"id\":\"2\",\"name\":\"two\",\"remote_data\":{RECORD_2}}}],\"next_cursor\":null,\"prev_cursor\":null,\"result_count\":2,\"is_partial_response\":false}}"
        )
    );

    // `raw`: the records themselves, as written.
    let r = app.get(&format!("{path}&truto_response_format=raw")).await;
    assert_eq!(
        r.text,
        format!("{{\"result\":[{RECORD_1},{RECORD_2}],\"next_cursor\":null,\"prev_cursor\":null,\"result_count\":2,\"is_partial_response\":false}}")
    );

    // `stream`: one line a record, the line breaks inside a record dropped (only spacing).
    let r = app.get(&format!("{path}&truto_response_format=stream")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let lines: Vec<&str> = r.text.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{{\"id\":\"1\",\"name\":\"one\",\"remote_data\":{RECORD_1}}}"),
            format!(
                "{{\"id\":\"2\",\"name\":\"two\",\"remote_data\":{}}}",
                RECORD_2.replace('\n', "")
            ),
        ]
    );
    for line in lines {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}

#[tokio::test]
async fn a_listed_record_is_written_from_its_parsed_form_where_its_bytes_cannot_serve() {
    let (_p, app, path) = list_answering("list-parsed", "response.data.items", ID_AND_NAME, PAGE).await;

    // `remote_data` cut by `truto_exclude_fields`: built from the parsed record.
    let r = app.get(&format!("{path}&truto_exclude_fields[]=remote_data.big")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["result"][0]["remote_data"],
        json!({"id": "1", "name": "one", "n": 1.5, "s": "café"})
    );
    assert!(r.text.contains("\"n\":1.5,"), "{}", r.text);

    // Records picked by a filter rather than a path of names.
    let (_q, app, path) = list_answering("list-filtered", "response.data.items[id != \"x\"]", ID_AND_NAME, PAGE).await;
    let r = app.get(&path).await;
    assert_written_from_parsed_records(&r);
    assert!(r.text.contains("\"e\":100}"), "{}", r.text);
}

#[tokio::test]
async fn a_list_mapping_that_writes_remote_data_gets_the_parsed_record_there() {
    let (_p, app, path) = list_answering(
        "list-own",
        "response.data.items",
        r#"{ "remote_data": "mine", "id": response.id }"#,
        PAGE,
    )
    .await;

    let r = app.get(&path).await;

    assert_written_from_parsed_records(&r);
    assert!(!r.text.contains("mine"), "{}", r.text);
}

/// Asserts a list answer of [`PAGE`] written from the parsed records: both of them, the
/// second's `remote_data` its parsed form (`1e2` read as 100), not its bytes.
fn assert_written_from_parsed_records(r: &crate::helpers::Reply) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(crate::helpers::result_ids(r), ["1", "2"]);
    assert_eq!(
        r.body["result"][1]["remote_data"],
        json!({"name": "two", "id": "2", "e": 100})
    );
    assert!(!r.text.contains("1e2"), "{}", r.text);
}
