//! Steps shared by the provider modules.

use reqwest::Method;
use serde_json::Value;
use unigate_emulator::RecordedRequest;

use crate::helpers::{Reply, TestApp};

/// Gets one organization and asserts a 200.
pub async fn get_org(app: &TestApp, account: &str, id: &str) -> Value {
    let r = app.get(&app.orgs_path(account, Some(id), "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// Sends a unified update (PATCH) and returns the reply.
pub async fn update_org(app: &TestApp, account: &str, id: &str, body: Value) -> Reply {
    app.send(Method::PATCH, &app.orgs_path(account, Some(id), ""), Some(body))
        .await
}

/// The last request with this method.
pub fn last_with_method(app: &TestApp, provider: &str, method: &str) -> RecordedRequest {
    app.emulator(provider)
        .requests()
        .iter()
        .rev()
        .find(|r| r.method == method)
        .unwrap_or_else(|| panic!("no {method} reached {provider}"))
        .clone()
}

/// Asserts a remote error: status, Truto shape, and the provider's raw body.
pub fn assert_remote_error(r: &Reply, status: u16, raw: &Value) {
    crate::helpers::assert_error(r, status);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(&r.body["raw_response"], raw, "{}", r.text);
}

/// Asserts that every request after the first is the next-page URL the provider gave in
/// the previous answer (at JSON `pointer`), taken as is: each recorded page request is
/// replayed against the emulator (with its headers) to read the link it answered.
pub async fn assert_pages_follow_next_links(app: &TestApp, provider: &str, pages: &[RecordedRequest], pointer: &str) {
    let emulator = app.emulator(provider);
    let client = reqwest::Client::new();
    for pair in pages.windows(2) {
        let (page, next) = (&pair[0], &pair[1]);
        let mut replay = client.get(format!("{}{}?{}", emulator.base_url(), page.path, page.query));
        for (name, value) in &page.headers {
            if name != "host" {
                replay = replay.header(name, value);
            }
        }
        let answer: Value = replay.send().await.unwrap().json().await.unwrap();
        let link = answer
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no next link at {pointer} in {answer}"));
        let link = url::Url::parse(link).unwrap();
        assert_eq!(link.origin().ascii_serialization(), emulator.base_url(), "{link}");
        assert_eq!(
            (next.path.as_str(), Some(next.query.as_str())),
            (link.path(), link.query()),
            "the next page must be requested at the provider's link"
        );
    }
}

/// The unified record without `remote_data`.
pub fn unified(body: &Value) -> Value {
    let mut b = body.clone();
    if let Some(m) = b.as_object_mut() {
        m.remove("remote_data");
    }
    b
}

/// `/unified/user-directory/users[/{id}]?integrated_account_id=...{extra}`.
pub fn users_path(account: &str, id: Option<&str>, extra: &str) -> String {
    match id {
        Some(id) => format!("/unified/user-directory/users/{id}?integrated_account_id={account}{extra}"),
        None => format!("/unified/user-directory/users?integrated_account_id={account}{extra}"),
    }
}

/// Gets one user and asserts a 200.
pub async fn get_user(app: &TestApp, account: &str, id: &str) -> Value {
    let r = app.get(&users_path(account, Some(id), "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// Sends a unified write and returns the reply.
pub async fn write_user(app: &TestApp, method: Method, account: &str, id: Option<&str>, body: Value) -> Reply {
    app.send(method, &users_path(account, id, ""), Some(body)).await
}

/// Sends a unified delete of one user and returns the reply.
pub async fn delete_user(app: &TestApp, account: &str, id: &str) -> Reply {
    app.send(Method::DELETE, &users_path(account, Some(id), ""), None).await
}

/// Walks the unified users list with `limit`, following `next_cursor`; returns the
/// records in order and how many unified pages were fetched.
pub async fn walk_users(app: &TestApp, account: &str, limit: u32) -> (Vec<Value>, usize) {
    crate::helpers::walk_records(app, &users_path(account, None, ""), limit).await
}

/// The requests the named emulator received, as `METHOD path?query` lines.
pub fn request_lines(app: &TestApp, provider: &str) -> Vec<String> {
    app.emulator(provider)
        .requests()
        .iter()
        .map(|r| {
            if r.query.is_empty() {
                format!("{} {}", r.method, r.path)
            } else {
                format!("{} {}?{}", r.method, r.path, r.query)
            }
        })
        .collect()
}

/// `/unified/user-directory/{resource}[/{id}]?integrated_account_id=...{extra}`, for any
/// resource of the User Directory (`groups`, `groups/add-user`, `me`, ...).
pub fn directory_path(resource: &str, account: &str, id: Option<&str>, extra: &str) -> String {
    let id = id.map(|i| format!("/{i}")).unwrap_or_default();
    format!("/unified/user-directory/{resource}{id}?integrated_account_id={account}{extra}")
}

/// The `id` of each record, in order.
pub fn ids(records: &[Value]) -> Vec<&str> {
    records.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

/// Lists `me` and asserts a 200 with exactly one record, which it returns.
pub async fn me(app: &TestApp, account: &str, extra: &str) -> Value {
    let r = app.get(&directory_path("me", account, None, extra)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "one connected identity: {}", r.text);
    result[0].clone()
}

/// The unified users list filtered by `group_id` (one page), asserting a 200.
pub async fn group_members(app: &TestApp, account: &str, group: &str, extra: &str) -> Vec<Value> {
    let r = app
        .get(&users_path(account, None, &format!("{extra}&group_id={group}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["result"].as_array().unwrap().clone()
}

/// The ids of the users list with `group_id` (one page), asserting a 200.
pub async fn group_member_ids(app: &TestApp, account: &str, group: &str, extra: &str) -> Vec<String> {
    ids(&group_members(app, account, group, extra).await)
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// The decoded query parameters of a recorded request, in order.
pub fn query_pairs(sent: &RecordedRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(sent.query.as_bytes())
        .into_owned()
        .collect()
}

/// `POST /unified/user-directory/groups/{method}` (`add-user`, `remove-user`) with
/// `{group_id, user_id}`.
pub async fn change_membership(
    app: &TestApp,
    method: &str,
    account: &str,
    extra: &str,
    group: &str,
    user: &str,
) -> Reply {
    app.send(
        Method::POST,
        &directory_path(&format!("groups/{method}"), account, None, extra),
        Some(serde_json::json!({"group_id": group, "user_id": user})),
    )
    .await
}
