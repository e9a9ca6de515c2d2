//! Kept-alive connections to providers: [`Pool`].
//!
//! hyper-util's pooled client did this before, at a cost per call that this pool does not
//! have (bench/ANALYSIS.md, twenty-fourth pass): it hashed its key with SipHash at checkout
//! and at return, and for every HTTP/1 answer it spawned a task whose only work was to wait
//! for the connection to be ready again and then put it back. Here a connection goes back
//! to the pool from the call that read its answer, when the body ends, and the key is
//! hashed with foldhash. Each connection still runs as a task of its own (hyper's
//! `client::conn::http1`, which does the HTTP), spawned once when it opens: a call that
//! polled its connection itself, in its own task, was measured and cost more CPU per call,
//! since every read of the provider's socket then woke the whole call.
//!
//! A connection is given up (closed) when its answer is not read to the end (a deadline,
//! a failure, a caller that stopped reading), when the provider closes it, and after
//! [`IDLE_TIMEOUT`] unused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::time::Instant;
use tower::Service;

use super::client::ClientError;
use super::net;

/// How long a connection may wait unused before it is closed (hyper-util's default, which
/// the client had before).
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How often idle connections are checked for their age.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

pub(super) type Connector = HttpsConnector<HttpConnector<net::GuardedResolver>>;

/// Where a connection goes: scheme, host and port.
#[derive(Debug, Clone, Copy, Hash)]
pub(super) struct Target<'a> {
    https: bool,
    /// As [`url::Url::host_str`] gives it: an IPv6 address in brackets.
    host: &'a str,
    port: u16,
}

impl<'a> Target<'a> {
    /// Where `url` goes; `None` unless it is an `http` or `https` URL with a host.
    pub(super) fn of(url: &'a url::Url) -> Option<Target<'a>> {
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        Some(Target {
            https,
            host: url.host_str()?,
            port: url.port_or_known_default()?,
        })
    }
}

/// [`Target`] owned, as the pool's key. Hashes as the `Target` it was made from (the same
/// fields in the same order), so a call looks its connections up without building one.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    https: bool,
    host: Box<str>,
    port: u16,
}

impl hashbrown::Equivalent<Arc<Key>> for Target<'_> {
    fn equivalent(&self, key: &Arc<Key>) -> bool {
        self.https == key.https && self.port == key.port && *self.host == *key.host
    }
}

/// Idle connections by where they go.
pub(super) struct Pool {
    connector: Connector,
    shared: Arc<Shared>,
}

struct Shared {
    idle: Mutex<hashbrown::HashMap<Arc<Key>, Vec<Idle>>>,
    /// A sweep task is running (it stops when no connection is idle).
    sweeping: AtomicBool,
}

struct Idle {
    lease: Lease,
    since: Instant,
}

/// A connection taken out of the pool (or just opened). Dropped before [`Lease::release`],
/// it closes (its task ends once the answer in flight, if any, is dropped).
pub(super) struct Lease {
    send: SendRequest<Full<Bytes>>,
    key: Arc<Key>,
    pool: Weak<Shared>,
}

impl Pool {
    pub(super) fn new(connector: Connector) -> Pool {
        Pool {
            connector,
            shared: Arc::new(Shared {
                idle: Mutex::new(hashbrown::HashMap::new()),
                sweeping: AtomicBool::new(false),
            }),
        }
    }

    /// Sends `request` (its URI in origin form, its `Host` header set) on a connection to
    /// `target`: an idle one when there is one the provider has not closed, else a new one.
    /// Returns the answer's head and the connection, to [`Lease::release`] once the body has
    /// been read to its end.
    ///
    /// A request that a kept-alive connection turned down before any of it was written (the
    /// provider closed it in the meantime) goes on the next connection, as hyper-util's
    /// client did: nothing of it was sent.
    pub(super) async fn send(
        &self,
        target: Target<'_>,
        mut request: http::Request<Full<Bytes>>,
    ) -> Result<(http::Response<Incoming>, Lease), ClientError> {
        loop {
            let (mut lease, reused) = match self.checkout(target) {
                Some(lease) => (lease, true),
                // Boxed: opening a connection (resolving, TCP, TLS) is a future of
                // kilobytes that a call on a kept-alive connection would otherwise carry, and
                // copy at each of the layers above as they move it.
                None => (Box::pin(self.connect(target)).await?, false),
            };
            if let Err(e) = lease.send.ready().await {
                if reused {
                    continue;
                }
                return Err(ClientError::Connect(e.into()));
            }
            match lease.send.try_send_request(request).await {
                Ok(response) => return Ok((response, lease)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(ClientError::Request(e.into_error().into())),
                },
            }
        }
    }

    /// The most recently used idle connection to `target` not yet too old.
    fn checkout(&self, target: Target<'_>) -> Option<Lease> {
        let mut idle = self.shared.idle.lock().unwrap_or_else(|e| e.into_inner());
        let waiting = idle.get_mut(&target)?;
        while let Some(one) = waiting.pop() {
            if one.since.elapsed() < IDLE_TIMEOUT && !one.lease.send.is_closed() {
                return Some(one.lease);
            }
        }
        None
    }

    async fn connect(&self, target: Target<'_>) -> Result<Lease, ClientError> {
        let scheme = if target.https { "https" } else { "http" };
        let uri: http::Uri = format!("{scheme}://{}:{}/", target.host, target.port)
            .parse()
            .map_err(|e: http::uri::InvalidUri| ClientError::Build(e.into()))?;
        let io = self.connector.clone().call(uri).await.map_err(ClientError::Connect)?;
        let (send, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| ClientError::Connect(e.into()))?;
        tokio::spawn(async move {
            // A failure here also fails the call in flight, which reports it.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "a provider connection ended");
            }
        });
        Ok(Lease {
            send,
            key: Arc::new(Key {
                https: target.https,
                host: target.host.into(),
                port: target.port,
            }),
            pool: Arc::downgrade(&self.shared),
        })
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("key", &self.key)
            .field("closed", &self.send.is_closed())
            .finish()
    }
}

impl Lease {
    /// Back to the pool, the answer having been read to its end; closed if the provider
    /// ended the connection (`Connection: close`, or a failure).
    pub(super) fn release(self) {
        if self.send.is_closed() {
            return;
        }
        let Some(shared) = self.pool.upgrade() else {
            return;
        };
        let mut idle = shared.idle.lock().unwrap_or_else(|e| e.into_inner());
        let key = self.key.clone();
        idle.entry(key).or_default().push(Idle {
            lease: self,
            since: Instant::now(),
        });
        if !shared.sweeping.swap(true, Ordering::AcqRel) {
            // Inside the runtime: a lease is released by the call that read the body.
            tokio::spawn(sweep(Arc::downgrade(&shared)));
        }
    }
}

/// Every [`SWEEP_EVERY`], closes the idle connections that are too old or that the provider
/// closed (their task has ended); ends when none is left (the next release starts another)
/// or the pool is gone.
async fn sweep(pool: Weak<Shared>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(shared) = pool.upgrade() else {
            return;
        };
        if !sweep_once(&shared) {
            return;
        }
    }
}

/// One sweep; false when no connection is left idle (and the sweep task is to end).
fn sweep_once(shared: &Shared) -> bool {
    let mut idle = shared.idle.lock().unwrap_or_else(|e| e.into_inner());
    idle.retain(|_, waiting| {
        waiting.retain(|one| one.since.elapsed() < IDLE_TIMEOUT && !one.lease.send.is_closed());
        !waiting.is_empty()
    });
    if idle.is_empty() {
        // Cleared under the lock: a release after this finds it cleared and starts a new
        // sweep; one before it left a connection, and this sweep would have gone on.
        shared.sweeping.store(false, Ordering::Release);
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::SocketAddr;
    use std::sync::atomic::AtomicUsize;

    use http::{HeaderMap, Method};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::upstream::client::{test_settings, Client, Request};

    fn direct() -> Client {
        Client::new(test_settings(), false).unwrap()
    }

    fn get(addr: SocketAddr, path: &str) -> Request {
        Request {
            method: Method::GET,
            url: url::Url::parse(&format!("http://{addr}{path}")).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: Duration::from_secs(2),
        }
    }

    /// What the test server does after each answer.
    #[derive(Clone, Copy)]
    enum After {
        /// Waits for the next request on the same connection.
        KeepAlive,
        /// Closes the connection, without saying so in the answer.
        Close,
        /// Closes the connection a moment later (once the client has put it back).
        CloseLater,
    }

    /// An HTTP/1.1 server written on the socket: answers every request on a connection with
    /// `answer` (whose body is `{"n":N}`, N counting requests across connections), then does
    /// `after`. Returns its address and the number of connections it accepted.
    async fn server(after: After, extra_header: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                let served = served.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut piece = [0u8; 1024];
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match socket.read(&mut piece).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&piece[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        buf.drain(..end);
                        let body = format!("{{\"n\":{}}}", served.fetch_add(1, Ordering::SeqCst));
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\n{extra_header}content-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        match after {
                            After::KeepAlive => {}
                            After::Close => return,
                            After::CloseLater => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    async fn body(client: &Client, addr: SocketAddr) -> String {
        let response = client.execute(&get(addr, "/x")).await.unwrap();
        String::from_utf8(response.bytes().await.unwrap().to_vec()).unwrap()
    }

    fn idle_count(client: &Client) -> usize {
        let pool = client.pool().unwrap();
        let idle = pool.shared.idle.lock().unwrap();
        idle.values().map(Vec::len).sum()
    }

    #[test]
    fn a_target_is_the_urls_scheme_host_and_port() {
        let url = |u: &str| url::Url::parse(u).unwrap();
        let of = |u: &url::Url| Target::of(u).map(|t| (t.https, t.host.to_string(), t.port));
        assert_eq!(
            of(&url("https://Api.Example.com/x")),
            Some((true, "api.example.com".into(), 443))
        );
        assert_eq!(
            of(&url("http://u:p@10.0.0.1:8080/x?y")),
            Some((false, "10.0.0.1".into(), 8080))
        );
        assert_eq!(of(&url("http://[::1]:81/")), Some((false, "[::1]".into(), 81)));
        assert_eq!(of(&url("ftp://example.com/")), None);
        assert_eq!(of(&url("data:text/plain,x")), None);
    }

    /// A call on a kept-alive connection does not carry the state of opening one (resolving,
    /// TCP, TLS: 2.2 KB of the 3.1 KB this future was when it did), which every layer above
    /// would copy as it moved the future.
    #[test]
    fn a_send_future_leaves_the_connect_path_boxed() {
        let client = direct();
        let url = url::Url::parse("https://api.example.com/x").unwrap();
        let send = client
            .pool()
            .unwrap()
            .send(Target::of(&url).unwrap(), http::Request::new(Full::new(Bytes::new())));
        let size = std::mem::size_of_val(&send);
        assert!(size < 1536, "the send future is {size} bytes");
    }

    /// An IPv6 address is connected to as written (in brackets); skipped where the machine
    /// has no IPv6 loopback.
    #[tokio::test]
    async fn an_ipv6_address_is_connected_to() {
        let Ok(listener) = tokio::net::TcpListener::bind("[::1]:0").await else {
            eprintln!("skipped: no IPv6 loopback");
            return;
        };
        let addr = listener.local_addr().unwrap();
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nv6")
                .await
                .unwrap();
        });
        // `http://[::1]:PORT/x`: a socket address of IPv6 is written in brackets.
        let request = get(addr, "/x");
        assert_eq!(request.url.host_str(), Some("[::1]"));
        let response = direct().execute(&request).await.unwrap();
        assert_eq!(response.bytes().await.unwrap(), Bytes::from_static(b"v6"));
        served.await.unwrap();
    }

    #[tokio::test]
    async fn a_connection_read_to_its_end_carries_the_next_call() {
        let client = direct();
        let (addr, accepted) = server(After::KeepAlive, "").await;
        for n in 0..3 {
            assert_eq!(body(&client, addr).await, format!("{{\"n\":{n}}}"));
            assert_eq!(idle_count(&client), 1);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        // Two calls at once: two connections, both kept.
        let (first, second) = (get(addr, "/a"), get(addr, "/b"));
        let (a, b) = tokio::join!(client.execute(&first), client.execute(&second));
        let (a, b) = (a.unwrap(), b.unwrap());
        a.bytes().await.unwrap();
        b.bytes().await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(idle_count(&client), 2);
    }

    #[tokio::test]
    async fn a_connection_the_provider_closed_is_not_used_again_and_the_call_goes_on_a_new_one() {
        let client = direct();
        let (addr, accepted) = server(After::Close, "").await;
        assert_eq!(body(&client, addr).await, "{\"n\":0}");
        // The provider's close may arrive before or after the next call takes the connection;
        // either way the call gets its answer.
        assert_eq!(body(&client, addr).await, "{\"n\":1}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(body(&client, addr).await, "{\"n\":2}");
        assert_eq!(accepted.load(Ordering::SeqCst), 3);

        // Closed while it waited in the pool: the next call finds the close when it takes it.
        let (addr, accepted) = server(After::CloseLater, "").await;
        assert_eq!(body(&client, addr).await, "{\"n\":0}");
        assert_eq!(idle_count(&client), 1);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(body(&client, addr).await, "{\"n\":1}");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_answer_that_says_connection_close_leaves_nothing_in_the_pool() {
        let client = direct();
        let (addr, accepted) = server(After::Close, "connection: close\r\n").await;
        assert_eq!(body(&client, addr).await, "{\"n\":0}");
        assert_eq!(idle_count(&client), 0);
        assert_eq!(body(&client, addr).await, "{\"n\":1}");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_whose_answer_was_not_read_to_its_end_is_closed() {
        let client = direct();
        let (addr, accepted) = server(After::KeepAlive, "").await;
        let response = client.execute(&get(addr, "/x")).await.unwrap();
        drop(response);
        assert_eq!(idle_count(&client), 0);
        assert_eq!(body(&client, addr).await, "{\"n\":1}");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn idle_connections_too_old_or_closed_by_the_provider_are_dropped() {
        let client = direct();
        let (addr, accepted) = server(After::KeepAlive, "").await;
        body(&client, addr).await;
        // Too old: not taken, and swept.
        let pool = client.pool().unwrap();
        {
            let mut idle = pool.shared.idle.lock().unwrap();
            for waiting in idle.values_mut() {
                for one in waiting {
                    one.since = Instant::now().checked_sub(IDLE_TIMEOUT).unwrap();
                }
            }
        }
        body(&client, addr).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "the old connection was not taken");
        assert_eq!(idle_count(&client), 1);
        assert!(sweep_once(&pool.shared), "a young connection stays");
        assert_eq!(idle_count(&client), 1);

        // Closed by the provider while idle: the sweep finds it out.
        let (addr, _) = server(After::CloseLater, "").await;
        body(&client, addr).await;
        assert_eq!(idle_count(&client), 2);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(sweep_once(&pool.shared));
        assert_eq!(idle_count(&client), 1, "only the first server's connection is left");
    }
}
