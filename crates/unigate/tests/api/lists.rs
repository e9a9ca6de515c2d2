//! The unified list's query and envelope, on a provider defined here: filters Unigate
//! applies to each page (short pages, a cursor that still reaches the last record),
//! unknown and unreadable parameters, an integration's required parameter (in the path),
//! Truto's envelope, `truto_key_by` and `truto_ignore_limit`.

use serde_json::{json, Value};

use crate::custom::{connect, custom_provider, spawn_with, CustomProvider, TOKEN};
use crate::helpers::{assert_error, walk_records, TestApp};

/// Seven people of team `t1` (two more in `t2`), two a page by default.
async fn teams_provider(name: &str) -> CustomProvider {
    let people: Vec<Value> = [
        ("1", "t1", "Ada", "Lovelace", "ada@example.com", "active", "2024-01-05T10:00:00Z"),
        ("2", "t1", "Alan", "Turing", "alan@example.com", "disabled", "2024-02-01T00:00:00Z"),
        ("3", "t1", "Grace", "Hopper", "Grace@Example.com", "active", "2024-03-10T09:30:00+02:00"),
        ("4", "t1", "Edsger", "Dijkstra", "ed@example.com", "disabled", "2024-04-01T00:00:00Z"),
        ("5", "t1", "Barbara", "Liskov", "barbara@example.com", "active", "2024-05-20T00:00:00Z"),
        ("6", "t1", "Ada", "Yonath", "yonath@example.com", "pending", "2024-06-01T00:00:00Z"),
        ("7", "t1", "Donald", "Knuth", "knuth@example.com", "active", "2024-07-01T00:00:00Z"),
        ("8", "t2", "Ken", "Thompson", "ken@example.com", "active", "2024-01-01T00:00:00Z"),
        ("9", "t2", "Ada", "Other", "other@example.com", "active", "2024-01-01T00:00:00Z"),
    ]
    .into_iter()
    .map(|(id, team, first, last, email, state, created)| {
        json!({"id": id, "team": team, "given": first, "family": last, "mail": email, "state": state, "created": created})
    })
    .collect();
    let emulator = format!(
        "credentials: {{ token: {TOKEN} }}\nauth:\n  - {{ header: Authorization, value: \"Bearer {{{{credentials.token}}}}\" }}\ncollections:\n  people:\n    records: {}\nroutes:\n  - {{ method: GET, path: \"/teams/{{team}}/people\", op: list, collection: people, filter: {{ team: \"{{{{params.team}}}}\" }}, paginate: {{ style: page, page_param: page, size_param: per_page, default_size: 2, envelope: {{ data: \"{{{{items}}}}\", more: \"{{{{has_more}}}}\" }} }} }}\n  - {{ method: GET, path: \"/people/{{id}}\", op: get, collection: people }}\n",
        serde_json::to_string(&people).unwrap()
    );
    let integration = format!(
        "name: {name}\nlabel: {name}\nbase_url: https://api.teams.example\ncredentials:\n  format: api_key\n  fields:\n    - name: token\nauthorization:\n  format: bearer\n  value: \"{{{{context.token}}}}\"\npagination:\n  format: page\n  page_param: page\n  limit_param: per_page\n  start: 1\n  has_more: response.more\nresources:\n  users:\n    list: {{ method: get, path: \"/teams/{{{{query.team_id}}}}/people\", response_path: response.data }}\n    get: {{ method: get, path: \"/people/{{{{id}}}}\" }}\n"
    );
    let provider = custom_provider(name, &integration, &emulator).await;
    let mapping = r#"{ "id": response.id, "first_name": response.given, "last_name": response.family, "emails": [{ "email": response.mail, "is_primary": true }], "status": response.state = "disabled" ? "inactive" : response.state = "pending" ? "invited" : response.state, "created_at": response.created }"#;
    let mappings = format!(
        "users:\n  list:\n    resource: users.list\n    partial: true\n    query_params:\n      team_id:\n        required: true\n        description: The team whose people to list.\n        example: t1\n    response_mapping: '{mapping}'\n  get:\n    resource: users.get\n    response_mapping: '{mapping}'\n"
    );
    std::fs::write(
        provider
            .dir
            .path()
            .join("integrations")
            .join(name)
            .join("user-directory.yaml"),
        mappings,
    )
    .unwrap();
    provider
}

async fn app_and_account(provider: &CustomProvider) -> (TestApp, String) {
    let app = spawn_with(provider, true, |_| {}).await;
    let account = connect(&app, provider, json!({})).await;
    (app, account)
}

fn users(account: &str, extra: &str) -> String {
    format!("/unified/user-directory/users?integrated_account_id={account}&team_id=t1{extra}")
}

fn ids(records: &[Value]) -> Vec<&str> {
    records.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_gateway_filter_leaves_short_pages_and_the_cursor_still_reaches_the_last_record() {
    let provider = teams_provider("lists-filter").await;
    let (app, account) = app_and_account(&provider).await;

    // `status` is applied by Unigate (the provider takes no filter): each provider page of
    // two keeps what matches, and the walk goes on to the provider's last page.
    let (records, pages) = walk_records(&app, &users(&account, "&status=active"), 2).await;
    assert_eq!(ids(&records), ["1", "3", "5", "7"]);
    assert_eq!(pages, 4, "every provider page is one unified page, short or not");
    // Nothing about the filter reached the provider.
    for r in provider.emulator.requests() {
        assert!(!r.query.contains("status"), "{}", r.query);
    }

    // First name ignoring case, and the email through the array of emails.
    let (records, _) = walk_records(&app, &users(&account, "&first_name=ADA"), 3).await;
    assert_eq!(ids(&records), ["1", "6"], "the other team's Ada is not listed");
    let (records, _) = walk_records(&app, &users(&account, "&email=grace@example.com"), 3).await;
    assert_eq!(ids(&records), ["3"]);

    // Times in bracket notation, compared as instants (record 3 is 07:30 UTC).
    let (records, _) = walk_records(
        &app,
        &users(
            &account,
            "&created_at[gte]=2024-03-10T07:30:00Z&created_at[lt]=2024-06-01",
        ),
        2,
    )
    .await;
    assert_eq!(ids(&records), ["3", "4", "5"]);

    // Two filters: both must hold.
    let (records, _) = walk_records(&app, &users(&account, "&status=invited&first_name=ada"), 2).await;
    assert_eq!(ids(&records), ["6"]);

    // A stream filters the same way, over every page.
    let r = app
        .get(&users(&account, "&status=inactive&truto_response_format=stream"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let streamed: Vec<Value> = r.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(ids(&streamed), ["2", "4"]);

    // A page where nothing matches is an empty page with a cursor, not the end.
    let r = app.get(&users(&account, "&limit=2&email=knuth@example.com")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"], json!([]));
    assert_eq!(r.body["result_count"], 0);
    assert!(r.body["next_cursor"].is_string(), "{}", r.text);
}

#[tokio::test]
async fn unknown_parameters_and_unreadable_filters_are_400s_naming_them() {
    let provider = teams_provider("lists-bad").await;
    let (app, account) = app_and_account(&provider).await;

    for (extra, named) in [
        ("&colour=blue", "colour"),
        ("&created_at=2024-01-01", "created_at"),
        ("&created_at[after]=2024-01-01", "created_at"),
        ("&updated_at[gt]=last%20week", "updated_at"),
        ("&email[]=a@x.io&email[]=b@x.io", "email"),
    ] {
        let r = app.get(&users(&account, extra)).await;
        let msg = assert_error(&r, 400);
        assert!(msg.contains(&format!("`{named}`")), "{extra}: {msg}");
    }
    let r = app.get(&users(&account, "&colour=blue")).await;
    let msg = assert_error(&r, 400);
    assert!(
        msg.contains("`first_name`") && msg.contains("`team_id`"),
        "lists what it takes: {msg}"
    );
    assert!(
        provider.emulator.requests().is_empty(),
        "no provider call for a bad query"
    );
}

#[tokio::test]
async fn a_missing_required_parameter_is_a_400_naming_it_and_the_integration() {
    let provider = teams_provider("lists-required").await;
    let (app, account) = app_and_account(&provider).await;

    for path in [
        format!("/unified/user-directory/users?integrated_account_id={account}"),
        format!("/unified/user-directory/users?integrated_account_id={account}&team_id="),
    ] {
        let r = app.get(&path).await;
        let msg = assert_error(&r, 400);
        assert!(msg.contains("`team_id`") && msg.contains("`lists-required`"), "{msg}");
        assert_eq!(r.body["details"]["parameter"], "team_id", "{}", r.text);
    }
    assert!(provider.emulator.requests().is_empty());

    // Given, it is in the provider's path.
    let r = app.get(&users(&account, "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = provider.emulator.requests();
    assert_eq!(sent[0].path, "/teams/t1/people");

    // `GET /integration/{name}` shows it, and who applies each filter.
    let r = app.get("/integration/lists-required").await;
    assert_eq!(
        r.body["query_params"]["user-directory"]["users"]["list"]["team_id"],
        json!({"description": "The team whose people to list.", "required": true, "example": "t1"})
    );
    assert_eq!(
        r.body["filters"]["user-directory"]["users"],
        json!({"first_name": "gateway", "last_name": "gateway", "email": "gateway", "status": "gateway", "created_at": "gateway", "updated_at": "gateway"})
    );
}

#[tokio::test]
async fn the_envelope_counts_the_page_and_says_when_records_are_partial() {
    let provider = teams_provider("lists-envelope").await;
    let (app, account) = app_and_account(&provider).await;

    let r = app.get(&users(&account, "&limit=3")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "result",
            "next_cursor",
            "prev_cursor",
            "result_count",
            "is_partial_response"
        ]
    );
    assert_eq!(r.body["result_count"], 3);
    assert!(r.body["prev_cursor"].is_null());
    // This list is declared `partial` (its get may carry more).
    assert_eq!(r.body["is_partial_response"], true);

    // A list that is not partial says so.
    let (app2, account2) = crate::helpers::app_with_account("okta").await;
    let r = app2
        .get(&format!(
            "/unified/user-directory/users?integrated_account_id={account2}"
        ))
        .await;
    assert_eq!(r.body["is_partial_response"], false, "{}", r.text);
}

#[tokio::test]
async fn truto_key_by_keys_the_page_and_refuses_to_hide_a_record() {
    let provider = teams_provider("lists-key-by").await;
    let (app, account) = app_and_account(&provider).await;

    let r = app.get(&users(&account, "&limit=3&truto_key_by=id")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_object().unwrap();
    assert_eq!(result.keys().collect::<Vec<_>>(), ["1", "2", "3"]);
    assert_eq!(result["2"]["last_name"], "Turing");
    assert_eq!(result["2"]["remote_data"]["family"], "Turing");
    assert_eq!(r.body["result_count"], 3);
    // The cursor goes on as without it.
    let cursor = r.body["next_cursor"].as_str().unwrap();
    let r = app
        .get(&users(
            &account,
            &format!("&limit=3&truto_key_by=id&next_cursor={cursor}"),
        ))
        .await;
    assert_eq!(
        r.body["result"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["4", "5", "6"]
    );

    // `raw` keys by the provider's field.
    let r = app
        .get(&users(&account, "&limit=2&truto_key_by=mail&truto_response_format=raw"))
        .await;
    assert_eq!(
        r.body["result"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["ada@example.com", "alan@example.com"]
    );

    // Two records under one key would hide one: refused, not lost. Also a missing field.
    let r = app.get(&users(&account, "&limit=7&truto_key_by=status")).await;
    let msg = assert_error(&r, 422);
    assert!(msg.contains("`status`") && msg.contains("unique"), "{msg}");
    let r = app.get(&users(&account, "&limit=2&truto_key_by=title")).await;
    let msg = assert_error(&r, 422);
    assert!(msg.contains("`title`"), "{msg}");

    // A stream has no page to key.
    let r = app
        .get(&users(&account, "&truto_key_by=id&truto_response_format=stream"))
        .await;
    assert_error(&r, 400);
}

#[tokio::test]
async fn truto_ignore_limit_leaves_the_page_size_to_the_provider() {
    let provider = teams_provider("lists-ignore-limit").await;
    let (app, account) = app_and_account(&provider).await;

    let r = app.get(&users(&account, "&limit=5&truto_ignore_limit=true")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The provider's default page (two), and no `per_page` sent.
    assert_eq!(r.body["result_count"], 2);
    let sent = provider.emulator.requests();
    assert!(!sent[0].query.contains("per_page"), "{}", sent[0].query);

    let r = app.get(&users(&account, "&limit=5")).await;
    assert_eq!(r.body["result_count"], 5);

    let r = app.get(&users(&account, "&truto_ignore_limit=maybe")).await;
    let msg = assert_error(&r, 400);
    assert!(msg.contains("truto_ignore_limit"), "{msg}");
}
