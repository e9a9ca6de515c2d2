//! `stream` for a list: every page in turn, one unified record per NDJSON line, one page in
//! memory at a time. The first page is read before the answer starts (its failure is the
//! answer's status); a failure after it ends the stream with an `{"error": ...}` line.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::call::{Call, Scope};
use super::list::{Kept, Page};
use crate::error::ApiError;
use crate::pagination::seen::SeenPages;
use crate::pagination::PageState;

impl Call {
    /// Streams the list from `first` (already read, at `state`) to its last page.
    pub(super) fn stream_list(self, first: Page, state: Option<PageState>, scope: Scope) -> Response {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
        let max_pages = self.state.upstream.config().max_stream_pages;
        tokio::spawn(async move {
            let mut first = Some(first);
            let mut state = state;
            let mut pages = 0u64;
            // Every page this stream has read: a provider that leads back to an earlier page
            // (A, B, A) is stopped before that page is sent again, not only one that
            // repeats the last position.
            let mut seen = SeenPages::default();
            loop {
                pages += 1;
                let page = match first.take() {
                    Some(page) => Ok(page),
                    None => self.fetch_page(state.as_ref(), &scope).await,
                };
                let Page {
                    reply,
                    records,
                    spans,
                    next,
                } = match page {
                    Ok(page) if !seen.first_visit(state.as_ref(), &page.reply.url) => {
                        let e = ApiError::new(
                            StatusCode::BAD_GATEWAY,
                            format!(
                                "{} led back to a page already read; stopping instead of looping.",
                                self.integration.name()
                            ),
                        );
                        let _ = tx.send(Ok(error_line(&e))).await;
                        return;
                    }
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Ok(error_line(&e))).await;
                        return;
                    }
                };
                let mut buf = Vec::with_capacity(records.len() * 256);
                for (i, r) in records.into_iter().enumerate() {
                    let start = buf.len();
                    let raw = spans.as_ref().and_then(|s| s.get(i)).map(|s| &reply.body[s.clone()]);
                    let written = match self.kept(&r, &scope) {
                        Ok(Kept::Out) => continue,
                        Err(e) => Err(e),
                        Ok(kept) => self.write_kept(&mut buf, kept, r, raw, &scope),
                    };
                    // A record's own line breaks (a pretty-printed answer) would split its
                    // line. Outside strings they are only spacing, and JSON strings cannot
                    // hold them unescaped.
                    if written.is_ok() && raw.is_some_and(|raw| memchr::memchr2(b'\n', b'\r', raw).is_some()) {
                        let line = buf.split_off(start);
                        buf.extend(line.into_iter().filter(|b| !matches!(b, b'\n' | b'\r')));
                    }
                    match written {
                        Ok(()) => buf.push(b'\n'),
                        Err(e) => {
                            buf.truncate(start);
                            let _ = tx.send(Ok(bytes::Bytes::from(buf))).await;
                            let _ = tx.send(Ok(error_line(&e))).await;
                            return;
                        }
                    }
                }
                if tx.send(Ok(bytes::Bytes::from(buf))).await.is_err() {
                    return; // the client went away
                }
                match next {
                    Some(n) if pages < max_pages => state = Some(n),
                    Some(_) => {
                        let e = ApiError::new(
                            StatusCode::BAD_GATEWAY,
                            format!("stopped after {max_pages} pages (upstream.max_stream_pages)"),
                        );
                        let _ = tx.send(Ok(error_line(&e))).await;
                        return;
                    }
                    None => return,
                }
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let mut response = Response::new(Body::from_stream(stream));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
        response
    }
}

/// A failure after the stream started, as its last line.
fn error_line(e: &ApiError) -> bytes::Bytes {
    let mut line = json!({ "error": { "statusCode": e.status.as_u16(), "message": e.message } }).to_string();
    line.push('\n');
    bytes::Bytes::from(line)
}
