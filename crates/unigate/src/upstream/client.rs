//! The HTTP client of provider calls.
//!
//! hyper's HTTP/1 connections over rustls (the same pieces reqwest is built on), kept alive
//! in Unigate's own pool ([`super::pool`]), with Unigate's own resolver
//! ([`net::GuardedResolver`]) and a deadline over the whole exchange, from connecting to the
//! last byte of the answer. reqwest added about 34 k instructions and 7 µs of CPU to every
//! call (a second and third parse of the URL, its redirect and retry layers, which Unigate
//! does not use: it follows no redirect and retries by itself), a seventh of a unified `get`
//! (`bench/ANALYSIS.md`, "Eighth pass").
//!
//! reqwest is still what sends when an outbound proxy is configured (`upstream.proxy`, or
//! `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` in either case): it implements them (with
//! `NO_PROXY`, tunnels and proxy credentials) and this client does not.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;
use tokio::time::Instant;

use super::net;
use super::pool::{Lease, Pool, Target};

pub use super::net::BoxError;

/// Why a request got no (complete) answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The deadline (`request_timeout_ms` or the integration's) passed.
    #[error("no complete answer within the time limit")]
    Timeout,
    /// No connection: nothing was sent.
    #[error("could not connect")]
    Connect(#[source] BoxError),
    /// The request could not be formed (a header value that is not one).
    #[error("invalid request")]
    Build(#[source] BoxError),
    /// The connection failed after it opened: the request may have been received.
    #[error("the exchange failed")]
    Request(#[source] BoxError),
    /// The answer broke off after its headers.
    #[error("the answer broke off")]
    Body(#[source] BoxError),
}

impl ClientError {
    /// The deadline passed, or the connection attempt itself timed out.
    pub fn is_timeout(&self) -> bool {
        if matches!(self, ClientError::Timeout) {
            return true;
        }
        let mut source = std::error::Error::source(self);
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::TimedOut {
                    return true;
                }
            }
            source = e.source();
        }
        false
    }

    pub fn is_connect(&self) -> bool {
        matches!(self, ClientError::Connect(_))
    }

    /// Failed while sending or waiting for the answer's head, after connecting.
    pub fn is_request(&self) -> bool {
        matches!(self, ClientError::Request(_))
    }
}

/// A request, all in memory (so it can be sent again).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: url::Url,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// From the start of the exchange to the last byte of the answer.
    pub timeout: Duration,
}

/// An answer whose body is still to be read.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The URL asked (no redirect is followed).
    pub url: url::Url,
    body: Body,
}

#[derive(Debug)]
enum Body {
    Direct {
        body: hyper::body::Incoming,
        /// The connection the body arrives on: back to the pool after its end.
        lease: Option<Lease>,
        deadline: Instant,
    },
    /// reqwest applies its own deadline.
    Proxied(reqwest::Response),
    Done,
}

impl Response {
    /// The declared `Content-Length`, when there is a valid one.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }

    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, ClientError>> {
        loop {
            let next = match &mut self.body {
                Body::Done => return None,
                Body::Direct { body, lease, deadline } => {
                    match tokio::time::timeout_at(*deadline, body.frame()).await {
                        Err(_) => Some(Err(ClientError::Timeout)),
                        Ok(None) => {
                            // Read to its end: the connection can take the next request.
                            if let Some(lease) = lease.take() {
                                lease.release();
                            }
                            None
                        }
                        Ok(Some(Err(e))) => Some(Err(ClientError::Body(e.into()))),
                        // Trailers carry no data.
                        Ok(Some(Ok(frame))) => match frame.into_data() {
                            Ok(data) if data.is_empty() => continue,
                            Ok(data) => return Some(Ok(data)),
                            Err(_) => continue,
                        },
                    }
                }
                Body::Proxied(response) => match response.chunk().await {
                    Ok(Some(data)) => return Some(Ok(data)),
                    Ok(None) => None,
                    Err(e) if e.is_timeout() => Some(Err(ClientError::Timeout)),
                    Err(e) => Some(Err(ClientError::Body(e.into()))),
                },
            };
            // The end, or a failure: nothing more comes.
            self.body = Body::Done;
            return next;
        }
    }

    /// The whole body.
    pub async fn bytes(mut self) -> Result<Bytes, ClientError> {
        let mut out = Joined::default();
        while let Some(chunk) = self.chunk().await {
            // No room set aside for a declared length: nothing here bounds it.
            out.push(chunk?, 0);
        }
        Ok(out.into_bytes())
    }

    /// The body as a stream of its pieces, ending after the first failure.
    pub fn bytes_stream(self) -> impl futures::Stream<Item = Result<Bytes, ClientError>> + Send {
        futures::stream::unfold(self, |mut response| async move {
            response.chunk().await.map(|piece| (piece, response))
        })
    }
}

/// A body's pieces joined into one. A body of one piece (most are) is kept as it came, not
/// copied: it holds on to the buffer it was read into (hyper's, 8 KiB or more) for as long
/// as it is kept. The pieces of any other body are copied into one buffer.
#[derive(Default)]
pub(crate) struct Joined {
    first: Option<Bytes>,
    rest: Vec<u8>,
}

impl Joined {
    /// The bytes so far.
    pub(crate) fn len(&self) -> usize {
        self.first.as_ref().map_or(self.rest.len(), Bytes::len)
    }

    /// Adds the next piece. `room`: the length to make room for when a second piece comes
    /// (the body's declared length, once checked against a limit; or 0).
    pub(crate) fn push(&mut self, piece: Bytes, room: usize) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(piece);
            return;
        }
        if let Some(first) = self.first.take() {
            self.rest.reserve(room.max(first.len() + piece.len()));
            self.rest.extend_from_slice(&first);
        }
        self.rest.extend_from_slice(&piece);
    }

    /// The whole body.
    pub(crate) fn into_bytes(self) -> Bytes {
        self.first.unwrap_or_else(|| Bytes::from(self.rest))
    }
}

/// A pooled client for provider calls (see the module's documentation).
#[derive(Clone)]
pub struct Client(Transport);

#[derive(Clone)]
enum Transport {
    Direct(Arc<Pool>),
    Proxied(reqwest::Client),
}

/// Settings shared by both transports.
pub struct Settings {
    pub connect_timeout: Duration,
    pub resolver: net::GuardedResolver,
    /// The operator's `upstream.proxy` (reqwest only; the environment's proxies apply
    /// without it).
    pub proxy: Option<String>,
    /// Certificate authorities trusted besides the built-in ones (`upstream.ca_certificates`).
    pub extra_roots: Arc<[CertificateDer<'static>]>,
}

/// The certificates of a PEM file (`upstream.ca_certificates`), each checked to be usable as a
/// trust anchor. The error names the file and says what is wrong with it.
pub fn load_ca_certificates(path: &std::path::Path) -> Result<Arc<[CertificateDer<'static>]>, String> {
    use rustls::pki_types::pem::PemObject;
    let shown = path.display();
    let text = std::fs::read(path).map_err(|e| format!("upstream.ca_certificates: cannot read {shown}: {e}"))?;
    let certificates = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("upstream.ca_certificates: {shown} is not a PEM file of certificates: {e}"))?;
    if certificates.is_empty() {
        return Err(format!(
            "upstream.ca_certificates: {shown} holds no certificate (expected PEM blocks \
             `-----BEGIN CERTIFICATE-----`)"
        ));
    }
    let mut store = rustls::RootCertStore::empty();
    for (i, certificate) in certificates.iter().enumerate() {
        store.add(certificate.clone()).map_err(|e| {
            format!(
                "upstream.ca_certificates: certificate {} of {shown} cannot be a certificate authority: {e}",
                i + 1
            )
        })?;
    }
    Ok(certificates.into())
}

/// Mozilla's trust anchors (webpki-roots, as reqwest's `rustls-tls`) and `extra`.
fn tls_config(extra: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, BoxError> {
    let mut roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for certificate in extra {
        roots.add(certificate.clone())?;
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// What to do about a refused certificate, said after [`certificate_error`]'s reason by
/// provider calls and OAuth token requests alike.
pub const CERTIFICATE_HINT: &str =
    "if a private certificate authority signed it, add that authority to `upstream.ca_certificates`";

/// Why the provider's certificate was refused (rustls' words), when that is what `error`
/// comes from: unknown issuer, expired, issued for another name.
pub fn certificate_error(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(rustls::Error::InvalidCertificate(reason)) = e.downcast_ref::<rustls::Error>() {
            return Some(rustls::Error::InvalidCertificate(reason.clone()).to_string());
        }
        // An `io::Error`'s `source()` skips what it wraps (hyper-rustls' and tokio-rustls'
        // errors are io::Errors around the rustls one): step into it instead.
        next = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

const USER_AGENT: &str = concat!("unigate/", env!("CARGO_PKG_VERSION"));

const PROXY_VARIABLES: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Whether the environment names an outbound proxy (as reqwest reads it).
pub fn proxy_configured() -> bool {
    PROXY_VARIABLES
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// The host names of the environment's proxies (`host:port` alone counts as `http://`).
pub fn env_proxy_hosts() -> Vec<String> {
    PROXY_VARIABLES
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .filter_map(|value| proxy_host(&value))
        .collect()
}

/// The host name of a proxy URL, lowercase; none for an address or an unparsable value.
pub fn proxy_host(value: &str) -> Option<String> {
    let url = if value.contains("://") {
        url::Url::parse(value)
    } else {
        url::Url::parse(&format!("http://{value}"))
    };
    match url.ok()?.host()? {
        url::Host::Domain(name) => Some(name.to_ascii_lowercase()),
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => None,
    }
}

impl Client {
    /// The direct transport, or reqwest when `proxied`.
    pub fn new(settings: Settings, proxied: bool) -> Result<Client, BoxError> {
        if proxied {
            return Ok(Client(Transport::Proxied(reqwest_client(settings)?)));
        }
        let mut http = HttpConnector::new_with_resolver(settings.resolver);
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        // As reqwest's defaults: a pooled connection whose peer vanished is found out.
        http.set_keepalive(Some(Duration::from_secs(15)));
        http.set_keepalive_interval(Some(Duration::from_secs(15)));
        http.set_keepalive_retries(Some(3));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(&settings.extra_roots)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Client(Transport::Direct(Arc::new(Pool::new(https)))))
    }

    /// The pool of the direct transport (tests look into it).
    #[cfg(test)]
    pub(super) fn pool(&self) -> Option<&Arc<Pool>> {
        match &self.0 {
            Transport::Direct(pool) => Some(pool),
            Transport::Proxied(_) => None,
        }
    }

    /// Sends; the answer's head arrives, or the error says how far it got.
    /// Sends `request`, which stays the caller's: a retry sends the same one again, so a
    /// call copies only what the transport takes (the headers), not the whole request
    /// for each attempt.
    pub async fn execute(&self, request: &Request) -> Result<Response, ClientError> {
        match &self.0 {
            Transport::Direct(pool) => {
                let deadline = Instant::now() + request.timeout;
                let url = &request.url;
                let Some(target) = Target::of(url) else {
                    return Err(ClientError::Build(
                        format!("not an http(s) URL with a host: {url}").into(),
                    ));
                };
                // Origin form (`/path?query`), as HTTP/1 asks a server for it.
                let uri = http::Uri::try_from(&url[url::Position::BeforePath..url::Position::AfterQuery])
                    .map_err(|e| ClientError::Build(e.into()))?;
                let mut headers = request.headers.clone();
                // `Host`: the host, and the port unless it is the scheme's (`url` leaves a
                // default port out), without any user information.
                if !headers.contains_key(http::header::HOST) {
                    let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
                    let host = HeaderValue::from_str(authority).map_err(|e| ClientError::Build(e.into()))?;
                    headers.insert(http::header::HOST, host);
                }
                if !headers.contains_key(http::header::USER_AGENT) {
                    headers.insert(http::header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
                }
                // Bodies are read as sent: a provider must not compress them (without the
                // header, HTTP lets it choose any coding).
                if !headers.contains_key(http::header::ACCEPT_ENCODING) {
                    headers.insert(http::header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
                }
                let mut out = http::Request::new(Full::new(request.body.clone()));
                *out.method_mut() = request.method.clone();
                *out.uri_mut() = uri;
                *out.headers_mut() = headers;
                match tokio::time::timeout_at(deadline, pool.send(target, out)).await {
                    Err(_) => Err(ClientError::Timeout),
                    Ok(Err(e)) => Err(e),
                    Ok(Ok((response, lease))) => {
                        let (parts, body) = response.into_parts();
                        Ok(Response {
                            status: parts.status,
                            headers: parts.headers,
                            url: request.url.clone(),
                            body: Body::Direct {
                                body,
                                lease: Some(lease),
                                deadline,
                            },
                        })
                    }
                }
            }
            Transport::Proxied(client) => {
                let url = request.url.clone();
                let sent = client
                    .request(request.method.clone(), request.url.clone())
                    .headers(request.headers.clone())
                    .body(request.body.clone())
                    .timeout(request.timeout)
                    .send()
                    .await;
                match sent {
                    Ok(response) => Ok(Response {
                        status: response.status(),
                        headers: response.headers().clone(),
                        url,
                        body: Body::Proxied(response),
                    }),
                    Err(e) if e.is_timeout() => Err(ClientError::Timeout),
                    Err(e) if e.is_connect() => Err(ClientError::Connect(e.into())),
                    Err(e) if e.is_builder() => Err(ClientError::Build(e.into())),
                    Err(e) => Err(ClientError::Request(e.into())),
                }
            }
        }
    }
}

/// For tests: settings with a 2 s connect timeout, the default address policy, no proxy
/// and no extra roots.
#[cfg(test)]
pub(super) fn test_settings() -> Settings {
    Settings {
        connect_timeout: Duration::from_secs(2),
        resolver: net::GuardedResolver {
            policy: net::AddressPolicy::default(),
            trusted_hosts: Arc::new(std::collections::HashSet::new()),
        },
        proxy: None,
        extra_roots: Arc::from([]),
    }
}

/// A reqwest client as Unigate's: no redirects followed, identity coding, the guarded
/// resolver (for names a proxy does not resolve), the operator's proxy, then the
/// environment's.
pub fn reqwest_client(settings: Settings) -> Result<reqwest::Client, BoxError> {
    let mut builder = reqwest::Client::builder();
    if let Some(url) = &settings.proxy {
        // Ahead of the environment's proxies, which reqwest still adds after it.
        builder = builder.proxy(reqwest::Proxy::all(url.as_str())?.no_proxy(reqwest::NoProxy::from_env()));
    }
    for certificate in settings.extra_roots.iter() {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(certificate)?);
    }
    Ok(builder
        .connect_timeout(settings.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .default_headers(HeaderMap::from_iter([(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        )]))
        .dns_resolver(Arc::new(settings.resolver))
        .build()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn a_body_of_one_piece_is_kept_as_it_came_and_pieces_are_joined_in_order() {
        let piece = Bytes::from_static(b"{\"login\": \"octo-org\"}");
        let mut one = Joined::default();
        one.push(piece.clone(), 0);
        assert_eq!(one.len(), piece.len());
        let kept = one.into_bytes();
        assert_eq!(kept.as_ptr(), piece.as_ptr(), "the same bytes, not a copy");

        let mut three = Joined::default();
        for p in ["ab", "cde", "f"] {
            three.push(Bytes::from_static(p.as_bytes()), 64);
        }
        assert_eq!(three.len(), 6);
        assert_eq!(three.into_bytes(), Bytes::from_static(b"abcdef"));
        assert_eq!(Joined::default().into_bytes(), Bytes::new());
    }

    /// A one-connection HTTP server written on the socket: it reads a request's head,
    /// writes `answer`, then waits `then_wait` (or closes at once). Returns the head it read.
    async fn server(answer: &'static str, then_wait: Duration) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            socket.write_all(answer.as_bytes()).await.unwrap();
            tokio::time::sleep(then_wait).await;
            String::from_utf8_lossy(&head).into_owned()
        });
        (addr, task)
    }

    #[test]
    fn a_proxy_host_name_is_read_with_or_without_a_scheme() {
        assert_eq!(proxy_host("http://u:p@Squid.Corp:3128").as_deref(), Some("squid.corp"));
        assert_eq!(proxy_host("squid.corp:3128").as_deref(), Some("squid.corp"));
        assert_eq!(
            proxy_host("http://10.0.0.1:3128"),
            None,
            "an address is checked as it is"
        );
        assert_eq!(proxy_host(""), None);
    }

    #[test]
    fn a_ca_file_whose_certificate_does_not_parse_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        let err = load_ca_certificates(&file).unwrap_err();
        assert!(
            err.starts_with("upstream.ca_certificates: certificate 1 of ") && err.contains("ca.pem"),
            "{err}"
        );
        std::fs::write(&file, "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").unwrap();
        let err = load_ca_certificates(&file).unwrap_err();
        assert!(err.contains("is not a PEM file of certificates"), "{err}");
    }

    fn clients() -> Vec<(&'static str, Client)> {
        vec![
            ("direct", Client::new(test_settings(), false).unwrap()),
            ("reqwest", Client::new(test_settings(), true).unwrap()),
        ]
    }

    fn get(url: &str) -> Request {
        Request {
            method: Method::GET,
            url: url::Url::parse(url).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: Duration::from_millis(500),
        }
    }

    #[tokio::test]
    async fn an_answer_is_read_whole_with_the_request_sent_as_unigate_sends_it() {
        for (name, client) in clients() {
            let (addr, head) = server(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}",
                Duration::ZERO,
            )
            .await;
            let mut request = get(&format!("http://{addr}/orgs/x?a=1"));
            request.headers.insert("x-api-key", HeaderValue::from_static("k"));
            let response = client.execute(&request).await.unwrap();
            assert_eq!(response.status, StatusCode::OK, "{name}");
            assert_eq!(response.content_length(), Some(11), "{name}");
            assert_eq!(response.url.path(), "/orgs/x", "{name}");
            assert_eq!(
                response.bytes().await.unwrap(),
                Bytes::from_static(b"{\"ok\":true}"),
                "{name}"
            );
            let head = head.await.unwrap().to_ascii_lowercase();
            assert!(head.starts_with("get /orgs/x?a=1 http/1.1\r\n"), "{name}: {head}");
            for line in ["x-api-key: k", "accept-encoding: identity", &format!("host: {addr}")] {
                assert!(head.contains(&format!("\r\n{line}\r\n")), "{name}: {line} in {head}");
            }
            assert!(head.contains("\r\nuser-agent: unigate/"), "{name}: {head}");
            assert_eq!(head.matches("\r\nhost: ").count(), 1, "{name}: {head}");
        }
    }

    /// `Host` is the host and port only: no user information, and one header.
    #[tokio::test]
    async fn the_host_header_is_the_host_and_port() {
        for (name, client) in clients() {
            let (addr, head) = server("HTTP/1.1 204 No Content\r\n\r\n", Duration::ZERO).await;
            client.execute(&get(&format!("http://user:pw@{addr}/x"))).await.unwrap();
            let head = head.await.unwrap().to_ascii_lowercase();
            assert!(head.contains(&format!("\r\nhost: {addr}\r\n")), "{name}: {head}");
            assert_eq!(head.matches("\r\nhost: ").count(), 1, "{name}: {head}");
        }
    }

    #[tokio::test]
    async fn the_deadline_covers_the_head_and_the_body() {
        for (name, client) in clients() {
            // No head at all.
            let (addr, _server) = server("", Duration::from_secs(5)).await;
            let err = client.execute(&get(&format!("http://{addr}/"))).await.unwrap_err();
            assert!(matches!(err, ClientError::Timeout), "{name}: {err:?}");

            // A head, then part of the body, then nothing.
            let (addr, _server) = server(
                "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"par",
                Duration::from_secs(5),
            )
            .await;
            let mut response = client.execute(&get(&format!("http://{addr}/"))).await.unwrap();
            assert_eq!(
                response.chunk().await.unwrap().unwrap(),
                Bytes::from_static(b"{\"par"),
                "{name}"
            );
            let err = response.chunk().await.unwrap().unwrap_err();
            assert!(
                matches!(err, ClientError::Timeout) && err.is_timeout(),
                "{name}: {err:?}"
            );
            assert!(response.chunk().await.is_none(), "{name}: nothing after a failure");
        }
    }

    #[tokio::test]
    async fn failures_are_told_apart() {
        for (name, client) in clients() {
            // Closed mid-body.
            let (addr, _server) = server("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"par", Duration::ZERO).await;
            let response = client.execute(&get(&format!("http://{addr}/"))).await.unwrap();
            let err = response.bytes().await.unwrap_err();
            assert!(matches!(err, ClientError::Body(_)), "{name}: {err:?}");

            // Closed before any answer: the request may have arrived.
            let (addr, _server) = server("", Duration::ZERO).await;
            let err = client.execute(&get(&format!("http://{addr}/"))).await.unwrap_err();
            assert!(err.is_request() && !err.is_connect(), "{name}: {err:?}");

            // Nobody listening: nothing was sent.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let err = client
                .execute(&get(&format!("http://127.0.0.1:{port}/")))
                .await
                .unwrap_err();
            assert!(err.is_connect() && !err.is_timeout(), "{name}: {err:?}");

            // TLS to a server that speaks plain HTTP at once: the handshake fails, as a
            // connect error.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let _server = tokio::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
            let err = client.execute(&get(&format!("https://{addr}/"))).await.unwrap_err();
            assert!(err.is_connect(), "{name}: {err:?}");

            // A name that resolves only to loopback: refused by the resolver, before connecting.
            let err = client.execute(&get("http://localhost:9/")).await.unwrap_err();
            assert!(err.is_connect(), "{name}: {err:?}");
            assert_eq!(net::forbidden_address(&err).unwrap().host, "localhost", "{name}");
        }
    }
}
