//! `upstream.proxy`: provider calls through an operator's forward proxy, on a real socket.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;

use crate::helpers::{assert_error, provider_saw, spawn_app_with};

/// What the proxy saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// The request target: absolute-form as a client sends it to a forward proxy, or
    /// authority-form (`host:port`) for a `CONNECT`.
    pub target: String,
    pub proxy_authorization: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Clone)]
struct Proxy {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// The `Proxy-Authorization` it requires.
    credentials: &'static str,
    onward: reqwest::Client,
}

/// A forward HTTP proxy: checks `Proxy-Authorization` (407 otherwise), records the call,
/// and passes it on to the absolute URL it names, as Squid would for plain HTTP; a `CONNECT`
/// opens a tunnel to the `host:port` it names, as for HTTPS.
pub async fn forward_proxy(credentials: &'static str) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    async fn pass_on(State(p): State<Proxy>, req: Request) -> Response {
        let headers = req.headers().clone();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        p.seen.lock().unwrap().push(Seen {
            method: req.method().to_string(),
            target: req.uri().to_string(),
            proxy_authorization: header("proxy-authorization"),
            authorization: header("authorization"),
        });
        if header("proxy-authorization").as_deref() != Some(p.credentials) {
            return Response::builder()
                .status(407)
                .header("proxy-authenticate", "Basic realm=\"proxy\"")
                .body(Body::from("proxy authentication required"))
                .unwrap();
        }
        if req.method() == axum::http::Method::CONNECT {
            let to = req.uri().authority().unwrap().to_string();
            tokio::spawn(async move {
                let Ok(client) = hyper::upgrade::on(req).await else {
                    return;
                };
                let Ok(mut server) = tokio::net::TcpStream::connect(to).await else {
                    return;
                };
                let mut client = hyper_util::rt::TokioIo::new(client);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
            return Response::new(Body::empty());
        }
        // GETs only: the body is not passed on.
        let (req, _) = req.into_parts();
        let mut onward = p.onward.request(req.method.clone(), req.uri.to_string());
        for (name, value) in &req.headers {
            if !name.as_str().starts_with("proxy-") && name != "host" {
                onward = onward.header(name, value);
            }
        }
        let answer = onward.send().await.unwrap();
        let mut out = Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            out = out.header(name, value);
        }
        out.body(Body::from(answer.bytes().await.unwrap())).unwrap()
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = Proxy {
        seen: seen.clone(),
        credentials,
        onward: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    let app = axum::Router::new().fallback(pass_on).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, seen)
}

/// "unigate:s3cret", as RFC 7617 encodes it.
pub const BASIC: &str = "Basic dW5pZ2F0ZTpzM2NyZXQ=";

#[tokio::test]
async fn provider_calls_go_through_the_configured_proxy_with_its_credentials() {
    let (port, seen) = forward_proxy(BASIC).await;
    // `localhost`: a proxy's host name resolving to a private address is trusted.
    let app =
        spawn_app_with(|c| c.upstream.proxy = Some(format!("http://unigate:s3cret@localhost:{port}").into())).await;
    let account = app.connect("github").await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "octo-org");
    let emulator = app.emulator("github");
    let calls = seen.lock().unwrap().clone();
    let call = calls
        .iter()
        .find(|s| s.target.ends_with("/orgs/octo-org"))
        .unwrap_or_else(|| panic!("the proxy saw no organization call: {calls:?}"));
    assert_eq!(call.method, "GET");
    assert_eq!(call.target, format!("{}/orgs/octo-org", emulator.base_url()));
    assert_eq!(call.proxy_authorization.as_deref(), Some(BASIC));
    assert!(
        call.authorization.as_deref().is_some_and(|a| a.starts_with("Bearer ")),
        "{call:?}"
    );
    let last = emulator.requests().last().unwrap().clone();
    assert_eq!(last.path, "/orgs/octo-org");
    assert!(
        last.header("proxy-authorization").is_none(),
        "the proxy's credentials stop at the proxy"
    );
    // Never echoed by the API.
    let config = app.get("/integrated-account").await;
    assert!(!config.text.contains("s3cret"));
}

#[tokio::test]
async fn a_proxy_that_refuses_the_credentials_is_a_clear_error() {
    let (port, seen) = forward_proxy(BASIC).await;
    let app =
        spawn_app_with(|c| c.upstream.proxy = Some(format!("http://unigate:wrong@127.0.0.1:{port}").into())).await;
    let account = app.connect("github").await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    // Not the 407 itself: that would ask the caller to authenticate to a proxy of its own.
    let msg = assert_error(&r, 502);
    assert!(msg.contains("407") && msg.contains("upstream.proxy"), "{msg}");
    assert!(!r.text.contains("wrong"), "{}", r.text);
    assert!(!seen.lock().unwrap().is_empty());
    assert!(!provider_saw(&app, "github", "/orgs/octo-org"));
}

#[tokio::test]
async fn a_proxy_that_is_down_is_a_502_naming_the_proxy() {
    // A port nothing listens on: bound without listening and held for the test, so that
    // connections to it are refused and no other test can take it meanwhile.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = held.local_addr().unwrap().port();
    let app = spawn_app_with(|c| c.upstream.proxy = Some(format!("http://127.0.0.1:{port}").into())).await;
    let account = app.connect("github").await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    let msg = assert_error(&r, 502);
    assert!(
        msg.contains("could not reach github through the outbound proxy"),
        "{msg}"
    );
}
