//! `list`: one page of the provider's list per call, its position in a signed
//! `next_cursor` (`pagination`), each record shaped; `stream` reads every page in turn
//! ([`super::stream`]).

use std::ops::Range;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::call::{Call, Scope};
use super::failure::{page_error, ListFailure};
use super::query::ResponseFormat;
use super::shape::{json_bytes, with_ratelimit};
use crate::catalog::registry::Authorization;
use crate::error::ApiError;
use crate::pagination::{cursor, seen, ListCall, PageReply, PageState, Pagination};
use crate::upstream::{Outgoing, Reply};

/// What the call's filters make of one record of a page ([`Call::kept`]).
pub(super) enum Kept {
    /// Filtered out.
    Out,
    /// In the answer; nothing needed it mapped yet.
    Unmapped,
    /// In the answer, already mapped.
    Mapped(Value),
}

/// One page of a list, as read from the provider.
pub(super) struct Page {
    pub(super) reply: Reply,
    /// The page's records, parsed.
    pub(super) records: Vec<Value>,
    /// Where each record is in `reply.body`, when they go out with their own bytes
    /// ([`Call::record_spans`]).
    pub(super) spans: Option<Vec<Range<usize>>>,
    /// Where the next page is, if there is one.
    pub(super) next: Option<PageState>,
}

impl Call {
    pub(super) async fn list(self: Box<Self>) -> Result<Response, ApiError> {
        let keyring = &self.state.keyring;
        let account_id = self.account.record.id.clone();
        let state = match &self.req.query.next_cursor {
            Some(c) => Some(cursor::decode(keyring, &account_id, c).map_err(|e| self.page_error(e))?),
            None => None,
        };
        let scope = self.scope(&json!({}));
        if self.req.query.format == ResponseFormat::Stream {
            if self.req.query.key_by.is_some() {
                return Err(ApiError::bad_request(
                    "`truto_key_by` keys one page's `result`; a `stream` has no `result` to key.",
                ));
            }
            // The first page is read before the answer starts: its failure (a 429 with its
            // `Retry-After`, a 401, a 502) is the answer's status, not a line under a 200.
            let first = self.fetch_page(state.as_ref(), &scope).await?;
            return Ok(self.stream_list(first, state, scope));
        }
        let Page {
            reply,
            records,
            spans,
            next,
        } = self.fetch_page(state.as_ref(), &scope).await?;
        let next_cursor = next.map(|n| cursor::encode(keyring, &account_id, &n));
        let mut out = Vec::with_capacity(reply.body.len() + records.len() * 128 + 128);
        out.extend_from_slice(if self.req.query.key_by.is_some() {
            b"{\"result\":{"
        } else {
            b"{\"result\":["
        });
        let mut keys = KeyBy::default();
        let mut count = 0usize;
        // The page's records through the mapping and the filters (no await from here on).
        let _span = tracing::info_span!(
            target: "unigate_otel",
            "mapping.response",
            unigate.records = records.len()
        )
        .entered();
        for (i, record) in records.into_iter().enumerate() {
            let raw = spans.as_ref().and_then(|s| s.get(i)).map(|s| &reply.body[s.clone()]);
            let kept = self.kept(&record, &scope)?;
            if let Kept::Out = kept {
                continue;
            }
            if count > 0 {
                out.push(b',');
            }
            if let Some(field) = &self.req.query.key_by {
                // `raw` keys by the provider's field, the other formats by the unified one.
                let keyed = match &kept {
                    Kept::Mapped(mapped) if self.req.query.format != ResponseFormat::Raw => mapped,
                    _ => &record,
                };
                keys.write_key(&mut out, field, keyed)?;
            }
            count += 1;
            self.write_kept(&mut out, kept, record, raw, &scope)?;
        }
        out.push(if self.req.query.key_by.is_some() { b'}' } else { b']' });
        out.extend_from_slice(b",\"next_cursor\":");
        serde_json::to_writer(&mut out, &next_cursor).map_err(ApiError::internal)?;
        // Unigate's cursors go forward only: no provider here can be asked for the page
        // before, and a cursor does not keep the way back (README, "The list envelope").
        out.extend_from_slice(b",\"prev_cursor\":null,\"result_count\":");
        out.extend_from_slice(count.to_string().as_bytes());
        out.extend_from_slice(if self.mapping.partial {
            b",\"is_partial_response\":true}"
        } else {
            b",\"is_partial_response\":false}"
        });
        let response = json_bytes(out);
        let mut response = with_ratelimit(response, &reply);
        if self.req.query.limit.is_some() && !self.req.query.ignore_limit && !self.resource.pagination.honours_limit() {
            // The provider has no page size: its pages are as long as it makes them. Say so
            // rather than let a longer page than asked for pass as honoured.
            response
                .headers_mut()
                .insert("x-unigate-limit", HeaderValue::from_static("ignored"));
        }
        Ok(response)
    }

    /// One provider page at `position` (`None`: the first): the selected records, and
    /// where the next page is.
    pub(super) async fn fetch_page(&self, position: Option<&PageState>, scope: &Scope) -> Result<Page, ApiError> {
        let resource = &self.resource;
        let pagination = &resource.pagination;
        let call = ListCall {
            position,
            limit: if self.req.query.ignore_limit {
                None
            } else {
                self.req.query.limit
            },
            query: &self.req.query.rest,
        };
        let mut ask = pagination
            .ask(
                call,
                || self.base_query(scope).map_err(ListFailure::Api),
                &self.req.query.remote_pairs,
            )
            .map_err(|e| self.list_failure(e))?;
        let outgoing = Outgoing {
            url: ask.url.take(),
            query: std::mem::take(&mut ask.query),
            headers: std::mem::take(&mut ask.headers),
            body: self.list_body(scope, std::mem::take(&mut ask.body))?,
            ..Default::default()
        };
        let mut reply = match self.exchange(resource, &json!({}), outgoing).await? {
            Ok(reply) => reply,
            // Asking past the end of a list of unknown length: the list is over.
            Err(e) if pagination.is_past_end(e.status()) => {
                let url = self.state.upstream.base_url(&self.integration, &self.context())?;
                let reply = Reply {
                    status: 416,
                    headers: http::HeaderMap::new(),
                    body: bytes::Bytes::new(),
                    json: Value::Null,
                    url,
                    ratelimit: Vec::new(),
                    memory: None,
                };
                return Ok(Page {
                    reply,
                    records: Vec::new(),
                    spans: None,
                    next: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        // No body at all on a 200 is a broken answer, not an empty page: reading it as one
        // would end a sync early and silently. (`204 No Content` does say "nothing".)
        if reply.status != 204 && crate::upstream::is_blank(&reply.body) {
            return Err(self.empty_answer(&reply, "a page of records"));
        }
        // When the whole answer is the page (no `response_path`), its records are taken out
        // of it once the pagination expressions below have read it, rather than copied.
        let selected = match resource.response_path {
            Some(_) => Some(self.select(resource, &reply)?),
            None => None,
        };
        let count = match selected.as_ref().unwrap_or(&reply.json) {
            Value::Array(items) => items.len(),
            Value::Null => 0,
            _ => 1,
        };
        // The expressions read the page in place: copying it into an input object
        // (`json!`) cost a deep copy of every page, once or twice.
        let page = PageReply {
            headers: &reply.headers,
            json: &reply.json,
            url: &reply.url,
            count,
        };
        let next = pagination.next(call, &ask, page).map_err(|e| self.page_error(e))?;
        // A provider may put the credential in its next-page URL (Graph's `paging.next`
        // carries `access_token`): it must never reach the client inside a cursor. Unigate
        // applies the account's authorization to every page anyway.
        let auth_param = match &self.integration.authorization {
            Authorization::Query { name, .. } => Some(name.as_str()),
            _ => None,
        };
        let next = next.map(|n| match n {
            PageState::Url(u) => PageState::Url(scrub_url(&u, &self.context(), auth_param)),
            other => other,
        });
        if seen::repeats(next.as_ref(), position) {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "{} returned the same page position twice; stopping instead of looping.",
                    self.integration.name()
                ),
            ));
        }
        let records = match selected.unwrap_or_else(|| std::mem::take(&mut reply.json)) {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let spans = self.record_spans(resource, &reply.body, &records);
        Ok(Page {
            reply,
            records,
            spans,
            next,
        })
    }

    /// A list's request body (a search `POST`): the mapping's `request_body_mapping` over
    /// the call's scope (else the resource's fixed `body`), with the pagination's body
    /// fields (`cursor` with `add_to_body`) set over it. `None`: the resource's own, if any.
    fn list_body(&self, scope: &Scope, paging: Vec<(String, Value)>) -> Result<Option<Value>, ApiError> {
        let mut body = match &self.mapping.request_body_mapping {
            // As on a write: undefined sends `{}`, `null` none.
            Some(expr) => expr
                .eval_fields(scope.fields())
                .map_err(|e| super::failure::request_mapping_error(&self.integration, "request_body_mapping", expr, e))?
                .unwrap_or_else(|| json!({})),
            None if paging.is_empty() => return Ok(None),
            None => self.resource.body.clone().unwrap_or(Value::Null),
        };
        for (path, value) in paging {
            crate::pagination::set_in_body(&mut body, &path, value);
        }
        Ok((!body.is_null()).then_some(body))
    }

    /// Whether a page's record stays in the answer, under the call's filters; mapped when it
    /// had to be mapped to tell (filters given, or a `truto_key_by` to read).
    pub(super) fn kept(&self, record: &Value, scope: &Scope) -> Result<Kept, ApiError> {
        let keyed_on_mapped = self.req.query.key_by.is_some() && self.req.query.format != ResponseFormat::Raw;
        if self.filters.is_empty() && !keyed_on_mapped {
            return Ok(Kept::Unmapped);
        }
        let mapped = self.map_record(record, scope)?;
        Ok(if self.filters.matches(&mapped) {
            Kept::Mapped(mapped)
        } else {
            Kept::Out
        })
    }

    /// Appends a record that [`Call::kept`] kept, as the client gets it: from its bytes in
    /// the provider's answer (`raw`) where known, mapped once at most.
    pub(super) fn write_kept(
        &self,
        out: &mut Vec<u8>,
        kept: Kept,
        record: Value,
        raw: Option<&[u8]>,
        scope: &Scope,
    ) -> Result<(), ApiError> {
        match (kept, raw) {
            (Kept::Mapped(mapped), raw) => self.write_mapped(out, mapped, record, raw),
            (_, Some(raw)) => self.write_record(out, record, raw, scope),
            (_, None) => {
                let mapped = if self.req.query.format == ResponseFormat::Raw {
                    Value::Null
                } else {
                    self.map_record(&record, scope)?
                };
                self.write_mapped(out, mapped, record, None)
            }
        }
    }

    /// The `dynamic` format's first-values expression, whose failure is judged by what it
    /// reads ([`super::failure`]).
    fn initial_values_expr(&self) -> Option<&crate::mapping::Expr> {
        match &self.resource.pagination {
            Pagination::Dynamic { initial, .. } => initial.as_ref(),
            _ => None,
        }
    }

    fn page_error(&self, e: crate::pagination::PageError) -> ApiError {
        page_error(&self.integration, self.initial_values_expr(), e)
    }

    fn list_failure(&self, e: ListFailure) -> ApiError {
        e.into_api(&self.integration, self.initial_values_expr())
    }
}

/// Query parameter names that carry credentials in providers' own next-page URLs.
const CREDENTIAL_PARAMS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "appsecret_proof",
    "auth_token",
    "client_secret",
    "password",
    "token",
];

/// `url` without query parameters that carry a credential: known credential names, the
/// integration's query-auth parameter, and any value equal to one of the account's secret
/// context values.
fn scrub_url(url: &str, context: &Value, auth_param: Option<&str>) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_string();
    };
    if parsed.query().is_none() {
        return url.to_string();
    }
    let secrets: Vec<&str> = context
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| crate::crypto::looks_secret(k))
                .filter_map(|(_, v)| v.as_str())
                .filter(|s| s.len() >= 8)
                .collect()
        })
        .unwrap_or_default();
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let kept: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, v)| {
            let name = k.to_ascii_lowercase();
            !CREDENTIAL_PARAMS.contains(&name.as_str())
                && auth_param != Some(k.as_str())
                && !secrets.contains(&v.as_str())
        })
        .collect();
    if kept.len() == pairs.len() {
        return url.to_string();
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    parsed.to_string()
}

#[cfg(test)]
mod scrub_tests {
    use super::*;

    #[test]
    fn credentials_are_removed_from_next_urls_and_the_rest_is_kept() {
        let context = json!({"access_token": "EAAB-very-secret-token", "region": "eu"});
        assert_eq!(
            scrub_url(
                "https://graph.facebook.com/v19.0/me/businesses?access_token=EAAB-very-secret-token&limit=25&after=QVFI",
                &context,
                None
            ),
            "https://graph.facebook.com/v19.0/me/businesses?limit=25&after=QVFI"
        );
        // A secret value under any name, and the integration's own query-auth parameter.
        assert_eq!(
            scrub_url(
                "https://x.test/a?k=EAAB-very-secret-token&key=abc&page=2",
                &context,
                Some("key")
            ),
            "https://x.test/a?page=2"
        );
        assert_eq!(
            scrub_url("https://x.test/a?token=t", &context, None),
            "https://x.test/a"
        );
        // Nothing to remove: the URL is untouched (page tokens are not credentials).
        let plain = "https://x.test/a?pageToken=abc&cursor=def";
        assert_eq!(scrub_url(plain, &context, None), plain);
    }
}

/// `truto_key_by`: the keys written so far, so that two records under one key (which would
/// hide one of them) are an error, not a silent loss.
#[derive(Default)]
struct KeyBy {
    seen: std::collections::HashSet<String>,
}

impl KeyBy {
    /// Writes `"<key>":` for `record`, keyed by its `field` (dotted through objects).
    fn write_key(&mut self, out: &mut Vec<u8>, field: &str, record: &Value) -> Result<(), ApiError> {
        let value = field.split('.').try_fold(record, |v, name| v.get(name));
        let key = match value {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("`truto_key_by={field}`: a record has no `{field}` (a string or a number) to key it by."),
                ))
            }
        };
        serde_json::to_writer(&mut *out, &key).map_err(ApiError::internal)?;
        out.push(b':');
        if !self.seen.insert(key.clone()) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "`truto_key_by={field}`: two records have `{field}` = `{key}`; key by a field that is unique, such as `id`."
                ),
            ));
        }
        Ok(())
    }
}
