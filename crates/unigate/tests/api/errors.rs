//! Every error class: bad input, unknown things, and every way a provider can fail.

use reqwest::Method;
use serde_json::json;
use unigate_emulator::{Fault, MalformedStyle};

use crate::helpers::{app_with_account, assert_error, spawn_app, spawn_app_with, TestApp};

#[tokio::test]
async fn unknown_accounts_models_and_resources_are_404() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&app.orgs_path("00000000-0000-0000-0000-000000000000", Some("x"), ""))
        .await;
    assert!(assert_error(&r, 404).contains("Integrated account"));
    let r = app
        .get(&format!("/unified/nope/organizations?integrated_account_id={account}"))
        .await;
    assert!(assert_error(&r, 404).contains("unified model"));
    let r = app
        .get(&format!("/unified/user-directory/nope?integrated_account_id={account}"))
        .await;
    assert!(assert_error(&r, 404).contains("no resource"));
    assert_error(&app.get("/nowhere").await, 404);
}

#[tokio::test]
async fn an_unsupported_method_names_the_integration_and_method() {
    let (app, account) = app_with_account("krystal").await;

    let r = app
        .send(Method::DELETE, &app.orgs_path(&account, Some("org_1"), ""), None)
        .await;

    let msg = assert_error(&r, 405);
    assert!(msg.contains("krystal") && msg.contains("delete"), "{msg}");
    assert_eq!(r.body["details"]["supported_methods"], json!(["list", "get", "update"]));
}

#[tokio::test]
async fn malformed_query_strings_and_bodies_are_400() {
    let (app, account) = app_with_account("github").await;

    assert!(
        assert_error(&app.get("/unified/user-directory/organizations/x").await, 400).contains("integrated_account_id")
    );
    let r = app
        .get(&app.orgs_path(&account, Some("octo-org"), "&truto_response_format=xml"))
        .await;
    assert!(assert_error(&r, 400).contains("truto_response_format"));
    let r = app.get(&app.orgs_path(&account, None, "&next_cursor=forged")).await;
    assert!(assert_error(&r, 400).contains("next_cursor"));

    let r = app
        .client
        .patch(format!(
            "{}{}",
            app.address,
            app.orgs_path(&account, Some("octo-org"), "")
        ))
        .bearer_auth(&app.token)
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("octo-org"), ""),
            Some(json!({"remote_data": 5})),
        )
        .await;
    assert!(assert_error(&r, 400).contains("remote_data"));
    let r = app
        .send(Method::PATCH, &app.orgs_path(&account, Some("octo-org"), ""), None)
        .await;
    assert_error(&r, 400);
    // Nothing reached the provider for any of these.
    assert!(app.emulator("github").requests().iter().all(|r| r.method == "GET"));
}

/// What axum's extractors refuse on their own (a path segment that is not UTF-8) still has
/// the JSON error shape.
#[tokio::test]
async fn a_path_that_is_not_utf8_is_a_json_400() {
    let (app, account) = app_with_account("github").await;

    for path in [
        format!("/unified/user-directory/organizations/%FF?integrated_account_id={account}"),
        "/integrated-account/%FF".to_string(),
        "/integration/%FF".to_string(),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.headers["content-type"], "application/json", "{path}: {}", r.text);
        assert_error(&r, 400);
    }
}

#[tokio::test]
async fn a_slow_provider_is_a_504_naming_it() {
    let app = spawn_app_with(|c| c.upstream.request_timeout_ms = 300).await;
    let account = app.connect("github").await;
    app.emulator("github")
        .inject(Fault::delay(std::time::Duration::from_millis(2000)).on("GET", "/orgs/*"));

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    let msg = assert_error(&r, 504);
    assert!(msg.contains("github"), "{msg}");
}

#[tokio::test]
async fn a_dropped_connection_is_a_502() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::drop_connection().on("GET", "/orgs/*"));

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert!(assert_error(&r, 502).contains("github"));
}

#[tokio::test]
async fn an_unreachable_provider_is_a_502() {
    let app = spawn_app_with(|c| {
        c.upstream
            .base_url_overrides
            .insert("github".into(), "http://127.0.0.1:9".into());
    })
    .await;
    let account = app.connect("github").await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert!(assert_error(&r, 502).contains("could not reach github"));
}

#[tokio::test]
async fn a_credential_that_cannot_be_a_header_value_is_refused_naming_the_integration() {
    let app = spawn_app().await;
    let account = app
        .connect_with("github", json!({ "access_token": "ghp_x\r\nX-Injected: 1" }))
        .await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    // The account's credential is at fault, not the provider's reachability.
    let msg = assert_error(&r, 400);
    assert!(msg.contains("cannot send github the `authorization` header"), "{msg}");
    assert!(msg.contains("integrated account's context"), "{msg}");
    assert!(app.emulator("github").requests().is_empty(), "nothing is sent");
}

#[tokio::test]
async fn garbage_from_the_provider_is_a_502_with_the_raw_text() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::malformed(MalformedStyle::Html).on("GET", "/orgs/*"));

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    let msg = assert_error(&r, 502);
    assert!(msg.contains("not valid JSON"), "{msg}");
    assert_eq!(r.body["truto_is_remote_error"], true);
}

/// GitHub's next organization `get` answered 200 with `body`, as written.
fn org_answer(body: &str) -> Fault {
    Fault::respond(200, json!({}))
        .with_raw_body(body)
        .on("GET", "/orgs/*")
        .times(1)
}

/// GitHub answers `answer` to the next organization read of `path`, and the gateway refuses
/// it as not JSON, with a 502; `context` names the case in a failure.
async fn assert_refused_as_not_json(app: &TestApp, path: &str, answer: &str, context: &str) {
    app.emulator("github").inject(org_answer(answer));

    let r = app.get(path).await;

    let msg = assert_error(&r, 502);
    assert!(msg.contains("not valid JSON"), "{context}: {msg}");
}

/// `raw` passes the provider's body on as it is, byte for byte, without building it; it is
/// still checked to be JSON as fully as a parse checks it, so garbage is the same 502 as in
/// the other formats.
#[tokio::test]
async fn a_raw_get_passes_the_body_on_as_sent_and_refuses_what_is_not_json() {
    let (app, account) = app_with_account("github").await;
    let path = app.orgs_path(&account, Some("octo-org"), "&truto_response_format=raw");
    let sent = r#"{ "login" : "octo-org", "id":1.50, "n":1e2, "s":"caf\u00e9 \ud83d\ude00" }"#;
    app.emulator("github").inject(org_answer(sent));

    let r = app.get(&path).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, sent);
    for bad in [
        "<html>oops</html>",
        r#"{"login": "octo-org""#,
        r#"{"login": "octo-org"} and more"#,
        r#"{"login": "octo-org", "tags": [1, 2,]}"#,
        r#"{"s": "\ud800"}"#,
        r#"{"n": 01}"#,
    ] {
        assert_refused_as_not_json(&app, &path, bad, bad).await;
    }
}

/// Where only the mapped fields reach the client (`normalized`, `truto_ignore_remote_data`, and
/// `unified`, whose `remote_data` is the provider's bytes), only those are built from the
/// answer; the rest is still checked, so a flaw in a field nobody reads is still a 502.
#[tokio::test]
async fn a_get_reads_only_the_mapped_fields_but_checks_the_whole_answer() {
    let (app, account) = app_with_account("github").await;
    let good = r#"{"login": "octo-org", "name": "Octo", "plan": {"name": "team", "seats": 1e3},
        "created_at": "2020-01-02T03:04:05Z", "unread": [{"deep": ["x", null, 2.5]}, "\ud83d\ude00"]}"#;
    let bad = r#"{"login": "octo-org", "name": "Octo", "unread": [1, 2,]}"#;
    for format in [
        "",
        "&truto_response_format=normalized",
        "&truto_ignore_remote_data=true",
    ] {
        let path = app.orgs_path(&account, Some("octo-org"), format);
        app.emulator("github").inject(org_answer(good));

        let r = app.get(&path).await;

        assert_eq!(r.status, 200, "{format}: {}", r.text);
        assert_eq!(r.body["id"], "octo-org", "{format}");
        assert_eq!(r.body["name"], "Octo", "{format}");
        assert_eq!(r.body["pricing_plan"], "team", "{format}");
        assert_eq!(r.body["created_at"], "2020-01-02T03:04:05Z", "{format}");
        match format {
            "" => assert_eq!(r.body["remote_data"]["unread"][1], "\u{1F600}"),
            _ => assert!(r.body.get("remote_data").is_none(), "{format}: {}", r.text),
        }

        assert_refused_as_not_json(&app, &path, bad, format).await;
    }
}

#[tokio::test]
async fn provider_errors_keep_their_meaning() {
    let (app, account) = app_with_account("github").await;
    for (status, ours) in [(403u16, 403u16), (409, 409), (422, 422), (500, 502), (503, 502)] {
        app.emulator("github").clear_faults();
        app.emulator("github").inject(
            // Every attempt fails (a 503 on a read is retried).
            Fault::respond(status, json!({"message": format!("boom {status}")})).on("GET", "/orgs/*"),
        );
        let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;
        let msg = assert_error(&r, ours);
        assert!(msg.contains(&format!("boom {status}")), "{msg}");
        assert_eq!(r.body["raw_response"]["message"], format!("boom {status}"));
    }
}

#[tokio::test]
async fn a_provider_429_is_a_429_with_retry_after() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::rate_limited(7).on("GET", "/orgs/*").times(1));

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_error(&r, 429);
    assert_eq!(r.headers["retry-after"], "7");
}

#[tokio::test]
async fn a_failed_write_changes_nothing_stored() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::respond(500, json!({"message": "oops"})).on("PATCH", "/orgs/*"));

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("octo-org"), ""),
            Some(json!({"name": "X"})),
        )
        .await;

    assert_error(&r, 502);
    assert_eq!(
        app.emulator("github").record("orgs", "octo-org").unwrap()["name"],
        "Octo Org"
    );
    let r = app.get(&format!("/integrated-account/{account}")).await;
    assert_eq!(r.body["status"], "active");
}

/// Unigate asks for bodies as sent (`Accept-Encoding: identity`). A provider that compresses
/// anyway: a parsed answer says why it cannot be read; a streamed one passes the coding on
/// with the bytes, so the client can decode them.
#[tokio::test]
async fn a_compressed_provider_body_is_named_or_passed_on_with_its_coding() {
    let (app, account) = app_with_account("github").await;
    let compressed = || {
        Fault::respond(200, json!({}))
            .with_header("content-encoding", "gzip")
            .with_raw_body("not-really-gzip")
            .on("GET", "/orgs/*")
            .times(1)
    };

    app.emulator("github").inject(compressed());
    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;
    assert!(assert_error(&r, 502).contains("Content-Encoding: gzip"), "{}", r.text);
    let sent = app.emulator("github").requests().last().cloned().unwrap();
    assert_eq!(sent.header("accept-encoding"), Some("identity"));

    app.emulator("github").inject(compressed());
    let r = app
        .get(&app.orgs_path(&account, Some("octo-org"), "&truto_response_format=stream"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert_eq!(r.text, "not-really-gzip");
}

/// A provider `Retry-After` that is neither seconds nor a date is not passed on.
#[tokio::test]
async fn a_retry_after_that_is_not_one_is_not_passed_on() {
    let (app, account) = app_with_account("github").await;
    for bad in ["soon", "-5", "18446744073709551615"] {
        app.emulator("github").clear_faults();
        app.emulator("github").inject(
            Fault::respond(429, json!({"message": "slow down"}))
                .with_header("retry-after", bad)
                .on("GET", "/orgs/*"),
        );

        let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

        assert_error(&r, 429);
        assert!(r.headers.get("retry-after").is_none(), "{bad}: {:?}", r.headers);
    }
}

/// A provider error keeps the provider's message in every format, `stream` included.
#[tokio::test]
async fn a_provider_error_message_survives_every_format() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::respond(500, json!({"message": "boom"})).on("GET", "/orgs/*"));

    for format in ["", "&truto_response_format=raw", "&truto_response_format=stream"] {
        let r = app.get(&app.orgs_path(&account, Some("octo-org"), format)).await;

        let msg = assert_error(&r, 502);
        assert!(msg.contains("boom"), "{format}: {msg}");
    }
}

/// A `get` answered with no body at all is a 502, not a 404 that would tell a syncing
/// client the record is gone.
#[tokio::test]
async fn an_empty_provider_body_on_a_get_is_a_502_not_a_404() {
    let (app, account) = app_with_account("github").await;
    for status in [200, 204] {
        app.emulator("github").clear_faults();
        app.emulator("github")
            .inject(Fault::respond(status, json!({})).with_raw_body("").on("GET", "/orgs/*"));

        let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

        let msg = assert_error(&r, 502);
        assert!(msg.contains("empty body"), "{status}: {msg}");
    }
}

/// A `get` whose answer is not an object (an array, a string) is a 502 showing the answer,
/// not an empty unified record.
#[tokio::test]
async fn a_get_answered_with_something_other_than_an_object_is_a_502() {
    let (app, account) = app_with_account("github").await;
    for body in [json!([{"login": "octo-org"}]), json!("octo-org")] {
        app.emulator("github").clear_faults();
        app.emulator("github")
            .inject(Fault::respond(200, body.clone()).on("GET", "/orgs/*"));

        let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

        let msg = assert_error(&r, 502);
        assert!(
            msg.contains("where a record (a JSON object) was expected"),
            "{body}: {msg}"
        );
        assert_eq!(r.body["raw_response"], body);
    }
}

/// A list page answered with no body at all is a broken answer, not an empty page (which
/// would end a client's sync early and silently); `204 No Content` is an empty page.
#[tokio::test]
async fn an_empty_provider_body_on_a_list_is_a_502_not_an_empty_page() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::respond(200, json!({})).with_raw_body("").on("GET", "/user/orgs"));

    let r = app.get(&app.orgs_path(&account, None, "")).await;

    let msg = assert_error(&r, 502);
    assert!(msg.contains("empty body where a page of records was expected"), "{msg}");

    app.emulator("github").clear_faults();
    app.emulator("github")
        .inject(Fault::respond(204, json!({})).with_raw_body("").on("GET", "/user/orgs"));
    let r = app.get(&app.orgs_path(&account, None, "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"], json!([]));
}

/// A read whose answer breaks off mid-body (the connection closed after the headers) is
/// sent again; one that always breaks off is a 502 naming the provider. A write is never
/// sent again.
#[tokio::test]
async fn an_answer_cut_off_mid_body_is_read_again_once_for_reads_only() {
    let (app, account) = app_with_account("github").await;
    let emulator = app.emulator("github");
    let gets = |app: &TestApp| {
        app.emulator("github")
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == "/orgs/octo-org")
            .count()
    };

    emulator.inject(Fault::malformed(MalformedStyle::CutOff).on("GET", "/orgs/*").times(1));
    let before = gets(&app);
    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "Octo Org");
    assert!(gets(&app) - before >= 2);

    // Cut off every time: a 502, after a bounded number of attempts (the connection-level
    // retries may also see a connection the cut left dead).
    emulator.clear_faults();
    emulator.inject(Fault::malformed(MalformedStyle::CutOff).on("GET", "/orgs/*"));
    let before = gets(&app);
    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;
    let msg = assert_error(&r, 502);
    assert!(msg.contains("github"), "{msg}");
    let sent = gets(&app) - before;
    assert!((2..=6).contains(&sent), "{sent} attempts");

    emulator.clear_faults();
    emulator.inject(Fault::malformed(MalformedStyle::CutOff).on("PATCH", "/orgs/*"));
    let patches = |app: &TestApp| {
        app.emulator("github")
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count()
    };
    let before = patches(&app);
    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("octo-org"), ""),
            Some(json!({"name": "Octo Org"})),
        )
        .await;
    assert_error(&r, 502);
    assert_eq!(patches(&app) - before, 1);
}

/// Provider answers held in memory at once are bounded across calls
/// (`upstream.max_buffered_bytes`): calls past it get a clear 503 with `Retry-After`, the
/// others their answer, and every share comes back once the calls are answered.
#[tokio::test]
async fn answers_in_memory_are_bounded_across_calls_and_the_budget_comes_back() {
    let app = spawn_app_with(|c| {
        c.upstream.max_response_bytes = 256 * 1024;
        c.upstream.max_buffered_bytes = 256 * 1024;
    })
    .await;
    let account = app.connect("github").await;
    app.emulator("github")
        .inject(Fault::huge(200 * 1024).on("GET", "/orgs/*"));
    let path = app.orgs_path(&account, Some("octo-org"), "&truto_response_format=raw");

    let replies = futures::future::join_all((0..16).map(|_| app.get(&path))).await;

    let mut answered = 0;
    for r in &replies {
        match r.status.as_u16() {
            200 => {
                // The answer came in several pieces (64 KiB each): joined whole, in order.
                let body: serde_json::Value = serde_json::from_str(&r.text).unwrap();
                let data = body["data"].as_str().unwrap_or_default();
                assert_eq!(data.len(), 200 * 1024 - 12);
                assert!(data.bytes().all(|b| b == b'x'));
                answered += 1;
            }
            503 => {
                let msg = assert_error(r, 503);
                assert!(msg.contains("max_buffered_bytes"), "{msg}");
                assert_eq!(r.headers["retry-after"], "1");
            }
            other => panic!("{other}: {}", r.text),
        }
    }
    assert!(answered >= 1, "at least one answer fits");
    assert_eq!(
        app.state.upstream.memory().available_kib(),
        256,
        "every share is given back"
    );
    assert_eq!(app.get(&path).await.status, 200);

    // A budget smaller than one answer of the largest size is refused at start.
    let mut config = unigate::config::Config::default();
    config.upstream.max_buffered_bytes = config.upstream.max_response_bytes - 1;
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("max_buffered_bytes"), "{err}");
}

/// Sends `request` as raw bytes and reads the whole answer (the server closes after it).
async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(address).await.unwrap();
    conn.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), conn.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection after its answer")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The head's status and content type, and the body as JSON.
fn parse_raw(answer: &str) -> (u16, String, serde_json::Value) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole response");
    let status = head[9..12].parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    (status, content_type, json)
}

#[tokio::test]
async fn requests_hyper_cannot_parse_answer_in_the_error_shape() {
    let app = spawn_app().await;
    let long = format!(
        "GET /unified/user-directory/users?x={} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    let too_many_headers = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\n{}\r\n",
        (0..2_000)
            .map(|i| format!("x-filler-{i}: {}\r\n", "b".repeat(200)))
            .collect::<String>()
    );
    let cases: [(&[u8], u16, &str); 4] = [
        (long.as_bytes(), 414, "URL is too long"),
        (too_many_headers.as_bytes(), 431, "headers are too large"),
        (
            b"GET /health HTTP/1.1\r\nbad header line\r\n\r\n",
            400,
            "not valid HTTP/1.1",
        ),
        (b"G@T /health HTTP/1.1\r\nhost: x\r\n\r\n", 400, "not valid HTTP/1.1"),
    ];
    for (request, status, message) in cases {
        let answer = raw_exchange(&app, request).await;
        let (got, content_type, json) = parse_raw(&answer);
        assert_eq!(got, status, "{answer:.300}");
        assert_eq!(content_type, "application/json", "{answer:.300}");
        assert_eq!(json["statusCode"], status);
        assert!(json["message"].as_str().unwrap_or_default().contains(message), "{json}");
    }
    // A well-formed request on the same listener is untouched, and so is the gateway's own 400.
    let answer = raw_exchange(&app, b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await;
    assert_eq!(parse_raw(&answer).0, 200, "{answer}");
    let r = app.get("/unified/user-directory/users?integrated_account_id=%zz").await;
    assert!(r.status.is_client_error());
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}
