//! Small helpers shared by the provider modules.

use serde_json::Value;
use unigate_emulator::RecordedRequest;

use crate::helpers::TestApp;

/// The last request the named emulator received.
pub fn last_request(app: &TestApp, provider: &str) -> RecordedRequest {
    app.emulator(provider).requests().last().cloned().unwrap()
}

/// Walks a unified list with `limit`, following `next_cursor`; returns the ids in order and
/// how many unified pages were fetched.
pub async fn walk(app: &TestApp, account: &str, limit: u32) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        pages += 1;
        assert!(pages < 50, "pagination does not end");
        let extra = match &cursor {
            Some(c) => format!("&limit={limit}&next_cursor={c}"),
            None => format!("&limit={limit}"),
        };
        let r = app.get(&app.orgs_path(account, None, &extra)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        for o in r.body["result"].as_array().unwrap() {
            ids.push(o["id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (ids, pages),
        }
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
