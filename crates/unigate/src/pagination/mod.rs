//! Pagination: every way a provider pages a list, in one place.
//!
//! - [`Pagination`]: the formats a catalog can name (`none`, `link_header`, `page`,
//!   `offset`, `cursor`, `next_url`, `range`, `dynamic`), compiled by `catalog`.
//! - [`PageState`]: a position in a provider's list (the page after the first), carried
//!   between calls in the client's `next_cursor`, signed and bound to one account
//!   ([`cursor`]).
//! - [`Pagination::ask`] applies a position to the outgoing request (query pairs, a URL to
//!   follow, headers); [`Pagination::next`] reads the next position from the provider's
//!   reply. Neither does I/O, so each format is tested without HTTP (below).
//! - Loop detection ([`seen`]): a provider that gives the same position twice, or leads a
//!   stream back to a page it already read, is stopped instead of followed forever.
//! - [`link`] and [`range`]: the two header grammars pagination reads (`Link`,
//!   `Content-Range`).
//!
//! Below `catalog` (which compiles formats into [`Pagination`]) and above `mapping`
//! (whose expressions some formats evaluate); it knows nothing of HTTP clients or of the
//! unified pipeline, which calls it.

pub mod cursor;
pub mod link;
pub mod range;
pub mod seen;

use http::{header, HeaderMap};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::mapping::template::{Encoding, Template, TemplateError};
use crate::mapping::{headers_json, EvalError, Expr};
use crate::query_pairs::{set_object, set_pair};

#[derive(Debug, Clone)]
pub enum Pagination {
    None,
    LinkHeader {
        limit_param: Option<String>,
    },
    Page {
        page_param: String,
        limit_param: Option<String>,
        start: u64,
        has_more: Option<Expr>,
    },
    Offset {
        offset_param: String,
        limit_param: Option<String>,
        has_more: Option<Expr>,
    },
    Cursor {
        cursor_param: String,
        limit_param: Option<String>,
        next_cursor: Expr,
        /// The cursor and the page size go into the JSON body (dotted paths), the cursor
        /// as the JSON value it was read as ([`PageState::Body`]).
        add_to_body: bool,
    },
    NextUrl {
        limit_param: Option<String>,
        /// A header carrying the page size; its template sees `{limit}`.
        limit_header: Option<(http::HeaderName, Template)>,
        next_url: Expr,
    },
    Range {
        unit: String,
        page_size: u64,
    },
    Dynamic {
        limit_param: Option<String>,
        initial: Option<Expr>,
        next: Expr,
    },
}

impl Pagination {
    pub fn limit_param(&self) -> Option<&str> {
        match self {
            Pagination::None | Pagination::Range { .. } => None,
            Pagination::LinkHeader { limit_param }
            | Pagination::Dynamic { limit_param, .. }
            | Pagination::Page { limit_param, .. }
            | Pagination::Offset { limit_param, .. }
            | Pagination::Cursor { limit_param, .. }
            | Pagination::NextUrl { limit_param, .. } => limit_param.as_deref(),
        }
    }

    /// Whether the client's `limit` reaches the provider as a page size (a size parameter
    /// or header, or the range's size). Elsewhere pages are as long as the provider makes
    /// them, and a unified list says so with `x-unigate-limit: ignored`.
    pub fn honours_limit(&self) -> bool {
        match self {
            Pagination::Range { .. } => true,
            // Its expressions may pass `limit` on themselves.
            Pagination::Dynamic { initial, next, .. } => {
                self.limit_param().is_some()
                    || std::iter::once(next)
                        .chain(initial)
                        .any(|e| mentions_word(e.source(), "limit"))
            }
            _ => self.limit_param().is_some() || self.limit_header().is_some(),
        }
    }

    /// The header carrying the page size, for providers that take it there.
    pub fn limit_header(&self) -> Option<&(http::HeaderName, Template)> {
        match self {
            Pagination::NextUrl { limit_header, .. } => limit_header.as_ref(),
            _ => None,
        }
    }
}

/// Whether `word` appears in `text` as a whole identifier.
fn mentions_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(word).any(|(i, _)| {
        !text[..i].chars().next_back().is_some_and(ident) && !text[i + word.len()..].chars().next().is_some_and(ident)
    })
}

/// A position in a provider's list: where the page after the first is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageState {
    /// A full provider URL (`link_header`, `next_url`, or a URL from `dynamic`).
    Url(String),
    Page(u64),
    Offset(u64),
    Cursor(String),
    /// `range` pagination: the first position of the next range.
    Range(u64),
    /// `dynamic` pagination: the values the expression gave for the next page.
    Dynamic(Value),
    /// `cursor` pagination with `add_to_body`: the cursor as the JSON value the provider
    /// gave (an array such as `search_after`), written back into the next request's body.
    Body(Value),
}

/// Why a page could not be asked for or its successor read. `unified` turns these into
/// answers: the cursor kinds are the client's (400), a request-side expression or template
/// the catalog's (500), a reply-side one the provider's answer not being what the
/// definition expects (502).
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("`next_cursor` is not a cursor this server issued for this integrated account.")]
    ForeignCursor,
    #[error("`next_cursor` holds an invalid URL.")]
    CursorUrl,
    #[error("`next_cursor` does not fit this resource's pagination.")]
    CursorMismatch,
    /// An expression that builds the request (`get_initial_pagination_values_expression`).
    #[error("{key} failed: {source}")]
    RequestExpression {
        key: &'static str,
        #[source]
        source: EvalError,
    },
    /// An expression that reads the provider's reply (`has_more`, `next_cursor`, ...).
    #[error("{key} failed: {source}")]
    ReplyExpression {
        key: &'static str,
        #[source]
        source: EvalError,
    },
    /// A request-side expression gave something other than what its key requires.
    #[error("{0}")]
    RequestShape(&'static str),
    /// A reply-side expression gave something other than what its key requires.
    #[error("{0}")]
    ReplyShape(&'static str),
    #[error("pagination.limit_header could not be rendered: {0}")]
    LimitHeader(#[source] TemplateError),
}

impl PageError {
    /// Whether the client's `next_cursor` is at fault (a 400).
    pub fn is_cursor(&self) -> bool {
        matches!(
            self,
            PageError::ForeignCursor | PageError::CursorUrl | PageError::CursorMismatch
        )
    }

    /// Whether the failure came from reading the provider's reply (rather than from
    /// building the request).
    pub fn is_reply_side(&self) -> bool {
        matches!(self, PageError::ReplyExpression { .. } | PageError::ReplyShape(_))
    }
}

/// What one page request carries besides the resource's own path and fixed query, from the
/// format and the position ([`Pagination::ask`]).
#[derive(Debug, Default)]
pub struct PageAsk {
    /// A URL to follow instead of the resource's (a URL position); it carries its own
    /// query, so [`PageAsk::query`] is empty.
    pub url: Option<url::Url>,
    /// The provider query: the base pairs, the page size, the position, `remote_query`.
    pub query: Vec<(String, String)>,
    /// Headers of this page (`Range`, a page size in a header).
    pub headers: Vec<(http::HeaderName, String)>,
    /// `dynamic`: the values this page is asked with (the next expression sees them).
    pub values: Value,
    /// `page` and `offset`: where the first page started (the given start, or
    /// `remote_query`'s own), from which the second page counts.
    pub first_position: Option<u64>,
    /// `cursor` with `add_to_body`: `(dotted path, value)` to set in the JSON request body
    /// (the page size, the position), over the body the mapping builds ([`set_in_body`]).
    pub body: Vec<(String, Value)>,
}

/// What [`Pagination::ask`] and [`Pagination::next`] read of the client's call.
#[derive(Debug, Clone, Copy)]
pub struct ListCall<'a> {
    /// The position asked for (`None`: the first page).
    pub position: Option<&'a PageState>,
    /// The client's `limit`, as a page size.
    pub limit: Option<u32>,
    /// The client's unified query parameters (`query` in expressions).
    pub query: &'a Map<String, Value>,
}

/// The provider's answer to one page, as [`Pagination::next`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct PageReply<'a> {
    pub headers: &'a HeaderMap,
    /// The parsed answer (`response` in expressions).
    pub json: &'a Value,
    /// The URL the page was read from (relative next links resolve against it).
    pub url: &'a url::Url,
    /// The records the page holds.
    pub count: usize,
}

impl Pagination {
    /// Applies `call`'s position to the outgoing request: a URL position is followed as
    /// it is; otherwise the query is `base()` (the query mapping), the page size, the
    /// first page's start or the `dynamic` values, `remote_query`, and last the position of
    /// a page after the first (set again after `remote_query`, which may choose where the
    /// first page starts but must not pin every later page to that start: the same page
    /// forever).
    pub fn ask<E: From<PageError>>(
        &self,
        call: ListCall<'_>,
        base: impl FnOnce() -> Result<Vec<(String, String)>, E>,
        remote: &[(String, String)],
    ) -> Result<PageAsk, E> {
        let mut ask = PageAsk::default();
        if let Some(PageState::Url(u)) = call.position {
            ask.url = Some(url::Url::parse(u).map_err(|_| PageError::CursorUrl)?);
        } else {
            let mut pairs = base()?;
            let in_body = matches!(self, Pagination::Cursor { add_to_body: true, .. });
            if let (Some(limit), Some(param)) = (call.limit, self.limit_param()) {
                if in_body {
                    ask.body.push((param.to_string(), Value::from(limit)));
                } else {
                    set_pair(&mut pairs, param.to_string(), limit.to_string());
                }
            }
            let mut position: Option<(String, String)> = None;
            match (self, call.position) {
                (Pagination::Page { page_param, .. }, Some(PageState::Page(n))) => {
                    position = Some((page_param.clone(), n.to_string()))
                }
                (Pagination::Page { page_param, start, .. }, None) => {
                    set_pair(&mut pairs, page_param.clone(), start.to_string())
                }
                (Pagination::Offset { offset_param, .. }, Some(PageState::Offset(n))) => {
                    position = Some((offset_param.clone(), n.to_string()))
                }
                (
                    Pagination::Cursor {
                        cursor_param,
                        add_to_body: false,
                        ..
                    },
                    Some(PageState::Cursor(c)),
                ) => position = Some((cursor_param.clone(), c.clone())),
                (
                    Pagination::Cursor {
                        cursor_param,
                        add_to_body: true,
                        ..
                    },
                    Some(PageState::Body(c)),
                ) => ask.body.push((cursor_param.clone(), c.clone())),
                (Pagination::Range { unit, page_size }, Some(PageState::Range(_)) | None) => {
                    let start = match call.position {
                        Some(PageState::Range(n)) => *n,
                        _ => 0,
                    };
                    let size = call.limit.map(u64::from).unwrap_or(*page_size);
                    ask.headers
                        .push((header::RANGE, range::request_header(unit, start, size)));
                }
                (Pagination::Dynamic { initial, .. }, None) => {
                    ask.values = initial_values(initial.as_ref(), call)?;
                    set_object(&mut pairs, &ask.values);
                }
                (Pagination::Dynamic { .. }, Some(PageState::Dynamic(v))) => {
                    ask.values = v.clone();
                    set_object(&mut pairs, &ask.values);
                }
                (_, None) => {}
                _ => return Err(PageError::CursorMismatch.into()),
            }
            for (k, v) in remote {
                set_pair(&mut pairs, k.clone(), v.clone());
            }
            if let Some((param, value)) = position {
                set_pair(&mut pairs, param, value);
            }
            ask.first_position = match self {
                Pagination::Page { page_param: p, .. } | Pagination::Offset { offset_param: p, .. } => pairs
                    .iter()
                    .rev()
                    .find(|(k, _)| k == p)
                    .and_then(|(_, v)| v.parse::<u64>().ok()),
                _ => None,
            };
            ask.query = pairs;
        }
        // A page size in a header goes on every page, the followed next URLs included.
        if let (Some(limit), Some((name, value))) = (call.limit, self.limit_header()) {
            let rendered = value
                .render(&serde_json::json!({ "limit": limit }), Encoding::Raw)
                .map_err(PageError::LimitHeader)?;
            ask.headers.push((name.clone(), rendered));
        }
        Ok(ask)
    }

    /// Whether a provider's error status means "past the end of the list": `range`
    /// pagination over a list of unknown length answers `416 Range Not Satisfiable`.
    pub fn is_past_end(&self, status: Option<u16>) -> bool {
        matches!(self, Pagination::Range { .. }) && status == Some(416)
    }

    /// The position of the page after `reply`, the answer to `ask` (`None`: the list is
    /// over).
    pub fn next(
        &self,
        call: ListCall<'_>,
        ask: &PageAsk,
        reply: PageReply<'_>,
    ) -> Result<Option<PageState>, PageError> {
        let PageReply {
            headers,
            json,
            url,
            count,
        } = reply;
        let follow = |u: String| PageState::Url(url.join(&u).map(|u| u.to_string()).unwrap_or(u));
        // `next_url` and `next_cursor` read `{response, headers}`.
        let read_reply = |expr: &Expr, key: &'static str| -> Result<Option<Value>, PageError> {
            let headers = headers_json(headers);
            let input = [("response", json), ("headers", &headers)];
            expr.eval_fields(input)
                .map_err(|source| PageError::ReplyExpression { key, source })
        };
        let more = |has_more: &Option<Expr>| -> Result<bool, PageError> {
            match has_more {
                Some(expr) => {
                    let (headers, count) = (headers_json(headers), Value::from(count));
                    let input = [("response", json), ("headers", &headers), ("records", &count)];
                    let out = expr.eval_fields(input).map_err(|source| PageError::ReplyExpression {
                        key: "pagination.has_more",
                        source,
                    })?;
                    Ok(matches!(out, Some(Value::Bool(true))))
                }
                None => Ok(match call.limit {
                    Some(l) => count as u64 >= l as u64,
                    None => count > 0,
                }),
            }
        };
        Ok(match self {
            Pagination::None => None,
            Pagination::LinkHeader { .. } => headers
                .get_all(header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(link::next_url)
                .map(follow),
            Pagination::Page { start, has_more, .. } => {
                let current = match call.position {
                    Some(PageState::Page(n)) => *n,
                    _ => ask.first_position.unwrap_or(*start),
                };
                more(has_more)?.then_some(PageState::Page(current + 1))
            }
            Pagination::Offset { has_more, .. } => {
                let current = match call.position {
                    Some(PageState::Offset(n)) => *n,
                    _ => ask.first_position.unwrap_or(0),
                };
                (more(has_more)? && count > 0).then_some(PageState::Offset(current + count as u64))
            }
            Pagination::NextUrl { next_url, .. } => match read_reply(next_url, "pagination.next_url")? {
                Some(Value::String(u)) if !u.is_empty() => Some(follow(u)),
                _ => None,
            },
            Pagination::Cursor {
                next_cursor,
                add_to_body: false,
                ..
            } => match read_reply(next_cursor, "pagination.next_cursor")? {
                Some(Value::String(s)) if !s.is_empty() => Some(PageState::Cursor(s)),
                Some(Value::Number(n)) => Some(PageState::Cursor(n.to_string())),
                _ => None,
            },
            // Any JSON value but "nothing" (null, "", [], {}) is a position, kept as it is.
            Pagination::Cursor {
                next_cursor,
                add_to_body: true,
                ..
            } => match read_reply(next_cursor, "pagination.next_cursor")? {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::Array(a)) if a.is_empty() => None,
                Some(Value::Object(m)) if m.is_empty() => None,
                Some(v) => Some(PageState::Body(v)),
            },
            Pagination::Range { unit, page_size } => {
                let size = call.limit.map(u64::from).unwrap_or(*page_size);
                let sent = headers
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(range::parse_content_range)
                    .filter(|c| c.unit.eq_ignore_ascii_case(unit));
                match sent {
                    // A known length: go on until its last position.
                    Some(range::ContentRange {
                        range: Some((_, last)),
                        total: Some(total),
                        ..
                    }) => (last + 1 < total).then_some(PageState::Range(last + 1)),
                    // An unknown length: a full range may have a successor.
                    Some(range::ContentRange {
                        range: Some((first, last)),
                        total: None,
                        ..
                    }) => (last - first + 1 >= size).then_some(PageState::Range(last + 1)),
                    // Nothing in range, or no `Content-Range` at all: the provider sent
                    // the whole list (or ignores ranges), so there is no next page.
                    _ => None,
                }
            }
            Pagination::Dynamic { next, .. } => {
                let (query, limit) = (Value::Object(call.query.clone()), Value::from(call.limit));
                let (count, url_text) = (Value::from(count), Value::from(url.as_str()));
                let headers = headers_json(headers);
                let input = [
                    ("response", json),
                    ("body", json),
                    ("headers", &headers),
                    ("query", &query),
                    ("limit", &limit),
                    ("records", &count),
                    ("url", &url_text),
                    ("paginationValues", &ask.values),
                ];
                let out = next.eval_fields(input).map_err(|source| PageError::ReplyExpression {
                    key: "pagination.get_pagination_values_expression",
                    source,
                })?;
                match out {
                    None | Some(Value::Null) | Some(Value::Bool(false)) => None,
                    Some(Value::Object(m)) if m.is_empty() => None,
                    Some(v @ Value::Object(_)) => Some(PageState::Dynamic(v)),
                    Some(Value::String(u)) if u.is_empty() => None,
                    Some(Value::String(u)) => Some(follow(u)),
                    Some(_) => {
                        return Err(PageError::ReplyShape(
                            "get_pagination_values_expression must give an object of query parameters, a URL string, or null",
                        ))
                    }
                }
            }
        })
    }
}

/// Sets `value` at the dotted `path` of a JSON body (`page.after` → `{"page": {"after":
/// ...}}`), creating objects on the way and replacing what is there; a body that is not an
/// object (none yet) becomes one.
pub fn set_in_body(body: &mut Value, path: &str, value: Value) {
    let mut at = body;
    for key in path.split('.') {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let Value::Object(map) = at else { return };
        at = map.entry(key.to_string()).or_insert(Value::Null);
    }
    *at = value;
}

/// `dynamic` pagination's first values: an object of query parameters, or nothing.
fn initial_values(expr: Option<&Expr>, call: ListCall<'_>) -> Result<Value, PageError> {
    let Some(expr) = expr else {
        return Ok(Value::Null);
    };
    let input = serde_json::json!({ "query": Value::Object(call.query.clone()), "limit": call.limit });
    let out = expr.eval(&input).map_err(|source| PageError::RequestExpression {
        key: "pagination.get_initial_pagination_values_expression",
        source,
    })?;
    match out {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(PageError::RequestShape(
            "get_initial_pagination_values_expression must give an object of query parameters",
        )),
    }
}

#[cfg(test)]
mod tests;
