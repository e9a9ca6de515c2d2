//! Shared steps of the batch A provider tests.

use reqwest::Method;
use serde_json::Value;
use unigate_emulator::RecordedRequest;

pub use crate::helpers::{last_request, walk_list};
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
