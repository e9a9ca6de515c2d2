//! The connection under the router. hyper answers a request it cannot parse by itself,
//! before any Unigate code runs: a URL over its 64 KiB limit (414), a header section over its
//! read buffer (431), a broken request line or header (400). That answer has an empty body and
//! no content type, and hyper offers no hook to change it. [`EdgeListener`] wraps each
//! accepted connection in [`EdgeIo`], which recognises exactly that answer on its way out and
//! writes Truto's error JSON in its place (hyper closes the connection after it, so the
//! different length is never seen by hyper's framing).
//!
//! Written by hand because no crate does it: the check is a few byte comparisons on the
//! first bytes of each write, so the hot path pays next to nothing.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A listener whose connections answer hyper's parse errors in Truto's error shape.
pub struct EdgeListener<L>(pub L);

impl<L: Listener> Listener for EdgeListener<L> {
    type Io = EdgeIo<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.0.accept().await;
        (EdgeIo::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// One accepted connection; see the module docs.
pub struct EdgeIo<T> {
    inner: T,
    /// hyper's automatic answer was seen: the bytes still to send in its place, and how
    /// many bytes of hyper's own to report as written once they are sent.
    replacement: Option<Replacement>,
    /// The replacement went out: hyper closes the connection, anything more is dropped.
    replaced: bool,
}

struct Replacement {
    bytes: Vec<u8>,
    sent: usize,
    claimed: usize,
}

impl<T> EdgeIo<T> {
    pub fn new(inner: T) -> Self {
        EdgeIo {
            inner,
            replacement: None,
            replaced: false,
        }
    }
}

/// The status of hyper's automatic answer to a request it could not parse, when `head` is
/// one: a complete response head with status 400, 414 or 431, no body and no content type.
/// Unigate's own error answers always carry `content-type: application/json`.
fn automatic_answer(head: &[u8]) -> Option<u16> {
    let status = match head.get(..13)? {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', _, b' ', b'4', b'0', b'0', b' '] => 400,
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', _, b' ', b'4', b'1', b'4', b' '] => 414,
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', _, b' ', b'4', b'3', b'1', b' '] => 431,
        _ => return None,
    };
    if !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let lower = head.to_ascii_lowercase();
    let has = |name: &[u8]| lower.windows(name.len()).any(|w| w == name);
    if has(b"\r\ncontent-type:") || !has(b"\r\ncontent-length: 0\r\n") {
        return None;
    }
    Some(status)
}

/// Truto's error JSON for hyper's automatic answer, as a whole HTTP/1.1 response.
fn error_response(status: u16) -> Vec<u8> {
    let (reason, message) = match status {
        414 => (
            "URI Too Long",
            "The request URL is too long (the limit is 64 KiB). Send fewer or shorter query parameters.",
        ),
        431 => (
            "Request Header Fields Too Large",
            "The request's headers are too large. Send fewer or shorter headers.",
        ),
        _ => (
            "Bad Request",
            "The request is not valid HTTP/1.1: its request line, URL or a header could not be parsed.",
        ),
    };
    let body = serde_json::json!({ "statusCode": status, "error": reason, "message": message }).to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl<T: AsyncWrite + Unpin> EdgeIo<T> {
    /// Sends the replacement; ready with the length to report to hyper once all of it went.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(r) = self.replacement.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while r.sent < r.bytes.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &r.bytes[r.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            r.sent += n;
        }
        let claimed = r.claimed;
        self.replacement = None;
        self.replaced = true;
        Poll::Ready(Ok(claimed))
    }

    /// Whether this write is hyper's automatic answer (then the replacement is queued).
    fn intercept(&mut self, first: &[u8], total: usize) -> bool {
        if self.replacement.is_some() {
            return true;
        }
        match automatic_answer(first) {
            Some(status) => {
                self.replacement = Some(Replacement {
                    bytes: error_response(status),
                    sent: 0,
                    claimed: total,
                });
                true
            }
            None => false,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for EdgeIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for EdgeIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replaced {
            return Poll::Ready(Ok(buf.len()));
        }
        if this.intercept(buf, buf.len()) {
            return this.poll_replacement(cx);
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let total = || bufs.iter().map(|b| b.len()).sum();
        if this.replaced {
            return Poll::Ready(Ok(total()));
        }
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
        if this.intercept(first, total()) {
            return this.poll_replacement(cx);
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_hypers_bare_answers() {
        let hyper_414 =
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 16:00:00 GMT\r\n\r\n";
        assert_eq!(automatic_answer(hyper_414), Some(414));
        let hyper_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(automatic_answer(hyper_400), Some(400));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_answer(ours), None);
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n";
        assert_eq!(automatic_answer(with_body), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_answer(ok), None);
        assert_eq!(automatic_answer(b"HTTP/1.1 4"), None);
    }

    #[test]
    fn the_replacement_is_a_whole_json_response() {
        let bytes = error_response(431);
        let text = String::from_utf8(bytes).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(json["statusCode"], 431);
    }
}
