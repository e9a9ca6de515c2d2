//! HTTPS to providers: certificates checked as a real provider's would be, a private
//! certificate authority trusted through `upstream.ca_certificates`, and HTTPS through an
//! outbound proxy's `CONNECT` tunnel.
//!
//! The emulators speak plain HTTP, so each test puts a TLS front before one (as a provider's
//! load balancer terminates TLS), with a certificate from a certificate authority made for
//! the test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use tokio_rustls::rustls;

use crate::helpers::{assert_error, provider_saw, spawn_app_with, TestApp};
use crate::outbound_proxy::{forward_proxy, BASIC};

/// A certificate authority of the test's own, written as PEM where the gateway can read it.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pem_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Unigate test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pem_file = dir.path().join("ca.pem");
        std::fs::write(&pem_file, issuer.pem()).unwrap();
        TestCa {
            issuer,
            pem_file,
            _dir: dir,
        }
    }

    /// A server certificate for `names`, and its key.
    fn issue(&self, names: &[&str]) -> (rustls::pki_types::CertificateDer<'static>, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        (cert.der().clone(), key)
    }
}

/// A running TLS front: its port, and the connections it accepted and completed the
/// handshake of.
#[derive(Clone)]
struct Front {
    port: u16,
    connections: Arc<AtomicUsize>,
    handshakes: Arc<AtomicUsize>,
}

impl Front {
    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

/// A TLS front on a port of its own: it completes the handshake with `cert`, then relays
/// bytes to `target` (an emulator, set before the first call).
async fn tls_front(
    target: Arc<OnceLock<SocketAddr>>,
    cert: rustls::pki_types::CertificateDer<'static>,
    key: &KeyPair,
) -> Front {
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = Front {
        port: listener.local_addr().unwrap().port(),
        connections: Arc::new(AtomicUsize::new(0)),
        handshakes: Arc::new(AtomicUsize::new(0)),
    };
    let counts = front.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            counts.connections.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let handshakes = counts.handshakes.clone();
            let target = *target.get().expect("the front's target is set before the first call");
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to relay.
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                handshakes.fetch_add(1, Ordering::SeqCst);
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    front
}

/// GitHub's emulator behind a TLS front whose certificate `ca` issued for `names`; the
/// gateway's GitHub base URL is `https://localhost:PORT`.
async fn github_over_tls(
    ca: &TestCa,
    names: &[&str],
    trust: Option<PathBuf>,
    proxy: Option<String>,
) -> (TestApp, Front) {
    // `spawn_app_with` starts the emulators and only then configures the gateway, which
    // needs the front's port: the front learns the emulator's address once it is up.
    let target = Arc::new(OnceLock::new());
    let (cert, key) = ca.issue(names);
    let front = tls_front(target.clone(), cert, &key).await;
    let app = spawn_app_with(|c| {
        c.upstream
            .base_url_overrides
            .insert("github".into(), format!("https://localhost:{}", front.port));
        c.upstream.ca_certificates = trust;
        c.upstream.proxy = proxy.map(Into::into);
    })
    .await;
    target.set(app.emulator("github").local_addr()).unwrap();
    (app, front)
}

#[tokio::test]
async fn an_https_provider_signed_by_a_private_ca_is_reached_once_the_ca_is_trusted() {
    let ca = TestCa::new();
    let (app, front) = github_over_tls(&ca, &["localhost"], Some(ca.pem_file.clone()), None).await;
    let account = app.connect("github").await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "octo-org");
    assert!(front.handshakes() >= 1, "the call did not go through TLS");
    let last = app.emulator("github").requests().last().unwrap().clone();
    assert_eq!(last.path, "/orgs/octo-org");
    assert!(last.header("authorization").is_some_and(|a| a.starts_with("Bearer ")));
}

#[tokio::test]
async fn a_certificate_from_an_unknown_authority_is_refused_with_a_502_that_says_what_to_do() {
    let ca = TestCa::new();
    // The built-in roots only: the test CA is unknown.
    let (app, front) = github_over_tls(&ca, &["localhost"], None, None).await;
    let account = app.connect("github").await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    let msg = assert_error(&r, 502);
    assert!(msg.contains("github's TLS certificate was refused"), "{msg}");
    assert!(msg.contains("UnknownIssuer"), "{msg}");
    assert!(msg.contains("upstream.ca_certificates"), "{msg}");
    assert_eq!(front.handshakes(), 0);
    // Not retried: a refused certificate stays refused.
    assert_eq!(front.connections(), 1);
    assert!(!provider_saw(&app, "github", "/orgs/octo-org"));
}

#[tokio::test]
async fn a_trusted_authority_does_not_make_a_certificate_for_another_host_valid() {
    let ca = TestCa::new();
    let (app, front) = github_over_tls(&ca, &["provider.internal"], Some(ca.pem_file.clone()), None).await;
    let account = app.connect("github").await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    let msg = assert_error(&r, 502);
    assert!(msg.contains("github's TLS certificate was refused"), "{msg}");
    assert!(msg.contains("not valid for name") && msg.contains("localhost"), "{msg}");
    assert_eq!(front.handshakes(), 0);
}

#[tokio::test]
async fn https_through_the_outbound_proxy_is_tunnelled_end_to_end() {
    let ca = TestCa::new();
    let (proxy_port, seen) = forward_proxy(BASIC).await;
    let proxy = format!("http://unigate:s3cret@localhost:{proxy_port}");
    let (app, front) = github_over_tls(&ca, &["localhost"], Some(ca.pem_file.clone()), Some(proxy)).await;
    let account = app.connect("github").await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "octo-org");
    let calls = seen.lock().unwrap().clone();
    // The proxy sees the host to tunnel to and its own credentials, never the path or the
    // provider's credentials: TLS runs between Unigate and the provider.
    let tunnel = calls
        .iter()
        .find(|s| s.method == "CONNECT")
        .unwrap_or_else(|| panic!("no CONNECT reached the proxy: {calls:?}"));
    assert_eq!(tunnel.target, format!("localhost:{}", front.port));
    assert_eq!(tunnel.proxy_authorization.as_deref(), Some(BASIC));
    assert!(tunnel.authorization.is_none(), "{tunnel:?}");
    assert!(calls.iter().all(|s| !s.target.contains("/orgs/")), "{calls:?}");
    assert!(front.handshakes() >= 1);
    assert_eq!(app.emulator("github").requests().last().unwrap().path, "/orgs/octo-org");
}

#[tokio::test]
async fn a_ca_file_that_is_missing_or_holds_no_certificate_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    for (file, expected) in [(&missing, "cannot read"), (&empty, "holds no certificate")] {
        let config = unigate::config::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            upstream: unigate::config::UpstreamConfig {
                ca_certificates: Some(file.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = match unigate::startup::Application::build(config, Default::default()).await {
            Ok(_) => panic!("started with {file:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains("upstream.ca_certificates")
                && err.contains(&file.display().to_string())
                && err.contains(expected),
            "{err}"
        );
    }
}

#[tokio::test]
async fn through_the_outbound_proxy_an_unknown_authority_is_refused_the_same_way() {
    let ca = TestCa::new();
    let (proxy_port, seen) = forward_proxy(BASIC).await;
    let proxy = format!("http://unigate:s3cret@localhost:{proxy_port}");
    let (app, front) = github_over_tls(&ca, &["localhost"], None, Some(proxy)).await;
    let account = app.connect("github").await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    let msg = assert_error(&r, 502);
    assert!(
        msg.contains("github's TLS certificate was refused") && msg.contains("UnknownIssuer"),
        "{msg}"
    );
    assert!(seen.lock().unwrap().iter().any(|s| s.method == "CONNECT"));
    assert_eq!(front.handshakes(), 0);
}

#[tokio::test]
async fn an_oauth_refresh_over_https_trusts_the_same_authorities_or_says_why_not() {
    let ca = TestCa::new();
    for trusted in [true, false] {
        let trust = trusted.then(|| ca.pem_file.clone());
        let (app, front) = github_over_tls(&ca, &["localhost"], trust, None).await;
        expired_github_token_is_refreshed(&app, &front, trusted).await;
    }
}

/// Calls through a GitHub OAuth account whose access token expired: the token is refreshed
/// when the test CA is `trusted`, and the call is a 502 saying why otherwise.
async fn expired_github_token_is_refreshed(app: &TestApp, front: &Front, trusted: bool) {
    let gh = app.emulator("github");
    let tokens = gh.oauth_issue().unwrap();
    let expired = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let account = app
        .connect_with(
            "github",
            serde_json::json!({
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "expires_at": expired,
            }),
        )
        .await;
    gh.clear_requests();

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    if !trusted {
        let msg = assert_error(&r, 502);
        assert!(
            msg.contains("the token endpoint's TLS certificate was refused")
                && msg.contains("UnknownIssuer")
                && msg.contains("upstream.ca_certificates"),
            "{msg}"
        );
        assert!(gh.requests().is_empty());
        return;
    }
    assert_eq!(r.status, 200, "{}", r.text);
    let seen = gh.requests();
    let refreshed = seen
        .iter()
        .find(|q| q.method == "POST" && q.path == "/login/oauth/access_token")
        .unwrap_or_else(|| panic!("no token request: {seen:?}"));
    assert!(refreshed.body_text().contains("grant_type=refresh_token"));
    let call = seen.iter().find(|q| q.path == "/orgs/octo-org").unwrap();
    assert_ne!(
        call.header("authorization"),
        Some(format!("Bearer {}", tokens.access_token).as_str())
    );
    // The token request and the call: two TLS connections at least (reqwest, then hyper).
    assert!(front.handshakes() >= 2);
}
