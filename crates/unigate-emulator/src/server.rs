//! The HTTP server: binds, serves the engine and the `/__emulator/` control endpoints, and
//! hands back a [`RunningEmulator`] that tests use to inspect and steer it.
//!
//! Dropping a connection without an answer is not something axum offers, so connections are
//! accepted through [`KillableListener`]: each stream carries a kill switch that the handler
//! can flip; the response write then fails, hyper closes the socket, and the client sees a
//! connection closed before any response, as with a crashed upstream.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::engine;
use crate::exchange::{Incoming, Reply, JSON};
use crate::fault::{self, Fault, FaultAction, MalformedStyle};
use crate::spec::EmulatorSpec;
use crate::state::{RecordedRequest, Shared};
use crate::tokens::OAuthTokens;

/// Largest request body the emulator reads.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Starts an emulator on `127.0.0.1` with a free port.
pub async fn start(spec: EmulatorSpec) -> io::Result<RunningEmulator> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    start_on(spec, listener).await
}

/// Starts an emulator on an already bound listener (so callers pick the address).
pub async fn start_on(spec: EmulatorSpec, listener: TcpListener) -> io::Result<RunningEmulator> {
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(spec));
    let app = router(shared.clone());
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let name = shared.spec.name().to_owned();
    let task = tokio::spawn(async move {
        let served = axum::serve(
            KillableListener { inner: listener },
            app.into_make_service_with_connect_info::<Conn>(),
        )
        .with_graceful_shutdown(async {
            // A dropped sender (last handle gone) stops the server as well.
            let _ = stop_rx.await;
        })
        .await;
        if let Err(error) = served {
            tracing::error!(emulator = %name, %error, "Emulator server stopped with an error.");
        }
    });
    tracing::debug!(emulator = %shared.spec.name(), %addr, "Emulator started.");
    Ok(RunningEmulator {
        inner: Arc::new(Inner {
            shared,
            addr,
            stop: Mutex::new(Some(stop_tx)),
            task: Mutex::new(Some(task)),
        }),
    })
}

/// Handle on a running emulator. Clones share the server; dropping the last one stops it.
#[derive(Debug, Clone)]
pub struct RunningEmulator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping the sender resolves the graceful-shutdown future in the server task.
        self.stop.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`, origin only.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The provider name.
    pub fn name(&self) -> &str {
        self.inner.shared.spec.name()
    }

    /// The requests received so far, in order (control endpoints excluded): the last
    /// [`crate::state::MAX_RECORDED`].
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.shared.lock().requests.iter().cloned().collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.inner.shared.lock().requests.clear();
    }

    /// Adds a fault; an invalid `path_regex` is logged and the fault ignored (see [`Self::try_inject`]).
    pub fn inject(&self, fault: Fault) {
        if let Err(error) = self.try_inject(fault) {
            tracing::warn!(emulator = %self.name(), %error, "Fault ignored.");
        }
    }

    /// Adds a fault, or says why it is invalid.
    pub fn try_inject(&self, fault: Fault) -> Result<(), String> {
        let active = fault.compile()?;
        self.inner.shared.lock().faults.push(active);
        Ok(())
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.inner.shared.lock().faults.clear();
    }

    /// The stored state of one record (id as it would appear in a path).
    pub fn record(&self, collection: &str, id: &str) -> Option<Value> {
        let state = self.inner.shared.lock();
        let coll = state.collections.get(collection)?;
        let key = coll.find(id)?;
        coll.records.get(&key).cloned()
    }

    /// The collection names, in the order the spec declares them.
    pub fn collections(&self) -> Vec<String> {
        self.inner.shared.lock().collections.keys().cloned().collect()
    }

    /// All records of a collection, in order.
    pub fn records(&self, collection: &str) -> Vec<Value> {
        let state = self.inner.shared.lock();
        state
            .collections
            .get(collection)
            .map(|c| c.records.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Adds (or replaces, by id) a record; one without an id gets a generated one.
    pub fn insert_record(&self, collection: &str, record: Value) {
        let mut state = self.inner.shared.lock();
        if state.collection_or_default(collection).insert(record).is_none() {
            tracing::warn!(emulator = %self.name(), collection, "Record not inserted: not an object, or no id.");
        }
    }

    /// Mints OAuth tokens as a completed consent would (for tests that seed an account
    /// without a browser). `None` when the spec has no `oauth` section.
    pub fn oauth_issue(&self) -> Option<OAuthTokens> {
        let spec = self.inner.shared.spec.file.oauth.as_ref()?;
        let with_refresh = spec.refresh_tokens;
        Some(self.inner.shared.lock().oauth.issue(spec, with_refresh))
    }

    /// Makes every access token issued so far expired.
    pub fn oauth_expire_access_tokens(&self) {
        self.inner.shared.lock().oauth.expire_access_tokens();
    }

    /// Revokes every refresh token issued so far (the user removed the app's access).
    pub fn oauth_revoke_refresh_tokens(&self) {
        self.inner.shared.lock().oauth.revoke_refresh_tokens();
    }

    /// Whether a refresh token is still accepted.
    pub fn oauth_refresh_token_live(&self, token: &str) -> bool {
        self.inner.shared.lock().oauth.refresh_live(token)
    }

    /// Whether an access token is still accepted.
    pub fn oauth_access_token_live(&self, token: &str) -> bool {
        self.inner.shared.lock().oauth.access_live(token)
    }

    /// Stops the server (for every handle) and waits for it, at most five seconds.
    pub async fn shutdown(self) {
        self.inner.stop.lock().unwrap_or_else(PoisonError::into_inner).take();
        let task = self.inner.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(mut task) = task {
            if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/__emulator/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/__emulator/requests", get(list_requests).delete(clear_requests))
        .route("/__emulator/records/{collection}", get(list_records))
        .fallback(dispatch)
        .with_state(shared)
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Json<Vec<Fault>> {
    Json(shared.lock().faults.iter().map(|f| f.fault.clone()).collect())
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let parsed = serde_json::from_slice::<Fault>(&body)
        .map_err(|e| format!("invalid fault: {e}"))
        .and_then(Fault::compile);
    match parsed {
        Ok(active) => {
            shared.lock().faults.push(active);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => (StatusCode::BAD_REQUEST, Json(json!({ "message": message }))).into_response(),
    }
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().faults.clear();
    StatusCode::NO_CONTENT
}

async fn list_requests(State(shared): State<Arc<Shared>>) -> Json<Vec<RecordedRequest>> {
    Json(shared.lock().requests.iter().cloned().collect())
}

async fn clear_requests(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().requests.clear();
    StatusCode::NO_CONTENT
}

async fn list_records(State(shared): State<Arc<Shared>>, Path(collection): Path<String>) -> Response {
    let state = shared.lock();
    match state.collections.get(&collection) {
        Some(c) => Json(c.records.values().cloned().collect::<Vec<_>>()).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "message": "unknown collection" }))).into_response(),
    }
}

/// Every provider request: record it, apply faults, then let the engine answer.
async fn dispatch(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let incoming = Incoming {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
    };
    let decision = {
        let mut state = shared.lock();
        state.record(record_of(&incoming));
        fault::decide(&mut state.faults, incoming.method.as_str(), &incoming.path)
    };
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    match decision.action {
        None | Some(FaultAction::Delay { .. }) => into_response(engine::process(&shared, &incoming)),
        Some(FaultAction::Drop) => {
            conn.kill.store(true, Ordering::SeqCst);
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Some(FaultAction::Respond {
            status,
            body,
            raw_body,
            headers,
            content_type,
        }) => {
            let (content_type, bytes) = match (raw_body, body) {
                (Some(raw), _) => (
                    content_type.unwrap_or_else(|| "text/html; charset=utf-8".into()),
                    raw.into_bytes(),
                ),
                (None, Some(json)) => (
                    content_type.unwrap_or_else(|| JSON.into()),
                    json.to_string().into_bytes(),
                ),
                (None, None) => {
                    let reason = StatusCode::from_u16(status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("Error");
                    (
                        content_type.unwrap_or_else(|| JSON.into()),
                        json!({ "message": reason }).to_string().into_bytes(),
                    )
                }
            };
            into_response(Reply {
                status,
                headers: headers.into_iter().collect(),
                content_type: Some(content_type),
                body: bytes,
            })
        }
        Some(FaultAction::Malformed { style, status }) => {
            let mut reply = engine::process(&shared, &incoming);
            if let Some(status) = status {
                reply.status = status;
            }
            match style {
                MalformedStyle::TruncatedJson => {
                    let cut = if reply.body.len() > 1 { reply.body.len() / 2 } else { 0 };
                    reply.body = if cut == 0 {
                        b"{\"id\": ".to_vec()
                    } else {
                        reply.body[..cut].to_vec()
                    };
                    reply.content_type = Some(JSON.into());
                }
                MalformedStyle::Html => {
                    reply.body = b"<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>The server is temporarily unable to service your request.</p></body></html>\n".to_vec();
                    reply.content_type = Some("text/html; charset=utf-8".into());
                }
                MalformedStyle::Empty => {
                    reply.body.clear();
                    reply.content_type = Some(JSON.into());
                }
                MalformedStyle::CutOff => return cut_off(reply),
            }
            into_response(reply)
        }
        Some(FaultAction::Huge { bytes, status }) => huge_response(bytes, status),
    }
}

fn record_of(req: &Incoming) -> RecordedRequest {
    RecordedRequest {
        method: req.method.to_string(),
        path: req.path.clone(),
        query: req.query.clone(),
        headers: req
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: req.body.clone(),
        json: serde_json::from_slice(&req.body).ok(),
        received_at: chrono::Utc::now(),
    }
}

fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(ct) = reply.content_type.and_then(|ct| HeaderValue::from_str(&ct).ok()) {
        headers.insert(axum::http::header::CONTENT_TYPE, ct);
    }
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            headers.append(name, value);
        }
    }
    response
}

/// `reply` with its full `Content-Length`, of which only the first half is sent before the
/// body fails (hyper then closes the connection).
fn cut_off(mut reply: Reply) -> Response {
    let full = reply.body.len();
    let half = bytes::Bytes::from(std::mem::take(&mut reply.body)).slice(..full / 2);
    // The failure comes a moment later, so that the head and the first half are sent
    // (and read) before the connection closes.
    let chunks = futures::StreamExt::chain(
        futures::stream::iter([Ok(half)]),
        futures::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "fault: connection cut mid-body",
            ))
        }),
    );
    let mut response = into_response(reply);
    *response.body_mut() = Body::from_stream(chunks);
    response
        .headers_mut()
        .insert(axum::http::header::CONTENT_LENGTH, HeaderValue::from(full));
    response
}

/// `{"data":"xxxx..."}` of about `bytes` bytes, streamed in 64 KiB chunks so memory stays flat.
fn huge_response(bytes: usize, status: u16) -> Response {
    const CHUNK: usize = 64 * 1024;
    let filler = bytes.saturating_sub(12);
    let chunks = std::iter::once(Ok::<_, io::Error>(bytes::Bytes::from_static(b"{\"data\":\"")))
        .chain((0..filler.div_ceil(CHUNK)).map(move |i| {
            let len = CHUNK.min(filler - i * CHUNK);
            Ok(bytes::Bytes::from(vec![b'x'; len]))
        }))
        .chain(std::iter::once(Ok(bytes::Bytes::from_static(b"\"}"))));
    let mut response = Response::new(Body::from_stream(futures::stream::iter(chunks)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
        .headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// Per-connection info handed to handlers: the connection's kill switch.
#[derive(Debug, Clone)]
struct Conn {
    kill: Arc<AtomicBool>,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, KillableListener>> for Conn {
    fn connect_info(stream: axum::serve::IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose streams can be killed from a handler.
struct KillableListener {
    inner: TcpListener,
}

impl axum::serve::Listener for KillableListener {
    type Io = KillableStream;
    type Addr = Conn;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _)) => {
                    // Small answers go out at once rather than waiting for Nagle.
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    let conn = Conn { kill: kill.clone() };
                    return (KillableStream { inner: stream, kill }, conn);
                }
                Err(error) => {
                    // Per-connection errors (reset before accept) are routine; anything else,
                    // such as running out of file descriptors, deserves a pause before retrying.
                    if !matches!(
                        error.kind(),
                        io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) {
                        tracing::warn!(%error, "Emulator accept failed; retrying.");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        // Only used for logging by axum; the real address is kept by `RunningEmulator`.
        Ok(Conn {
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// A TCP stream that fails every write once killed.
struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl KillableStream {
    fn killed(&self) -> bool {
        self.kill.load(Ordering::SeqCst)
    }
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by an injected fault",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
