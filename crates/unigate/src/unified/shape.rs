//! Shaping: one provider record to one client record in the requested format. The record
//! goes through the response mapping; `remote_data` is the provider's record, written from
//! its bytes in the provider's answer where it can be (their number spellings, escapes and
//! key order, and no serializing of what was parsed) and from the parsed record otherwise;
//! `normalized` keeps only the model's fields; `truto_exclude_fields` comes last. Also the
//! pieces every answer shares: the provider's rate-limit state and a raw answer.

use std::ops::Range;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};

use super::call::{Call, Scope};
use super::failure::{reply_mapping_error, reply_mapping_shape};
use super::format;
use super::query::ResponseFormat;
use crate::catalog::Resource;
use crate::error::ApiError;
use crate::upstream::Reply;

impl Call {
    /// The record through the response mapping (the record itself without one): the
    /// unified fields, before `remote_data`, normalization and exclusions.
    pub(super) fn map_record(&self, raw: &Value, scope: &Scope) -> Result<Value, ApiError> {
        Ok(match &self.mapping.response_mapping {
            None => raw.clone(),
            Some(expr) => {
                // `{scope..., response}`, read in place (no copy of the scope or the record).
                let input = scope.fields().into_iter().chain([("response", raw)]);
                match expr.eval_fields(input).map_err(reply_mapping_error)? {
                    Some(Value::Object(m)) => Value::Object(m),
                    None | Some(Value::Null) => Value::Object(Map::new()),
                    Some(_) => return Err(reply_mapping_shape("response_mapping must give an object")),
                }
            }
        })
    }

    /// One provider record to one client record, in the requested format; the record moves
    /// into `remote_data` rather than being copied there.
    pub(super) fn shape(&self, raw: Value, scope: &Scope) -> Result<Value, ApiError> {
        let _span = tracing::info_span!(target: "unigate_otel", "mapping.response").entered();
        let mapped = self.map_record(&raw, scope)?;
        Ok(self.finish(mapped, raw))
    }

    /// `mapped`, the record `raw` through the mapping, in the requested format.
    pub(super) fn finish(&self, mut mapped: Value, raw: Value) -> Value {
        match self.req.query.format {
            ResponseFormat::Normalized => {
                // The proxy API has no unified model, hence no schema (the record as it is).
                let registry = self.state.registry();
                let schema = registry
                    .model(&self.req.category)
                    .and_then(|m| m.resource(&self.req.resource))
                    .map_or(&Value::Null, |r| &r.schema);
                mapped = format::normalize(&mapped, schema).unwrap_or_else(|| Value::Object(Map::new()));
            }
            ResponseFormat::Unified | ResponseFormat::Stream | ResponseFormat::Raw => {
                // A write answered with no body (a custom method's 204) has no `remote_data`.
                if !self.req.query.ignore_remote_data && !raw.is_null() {
                    mapped["remote_data"] = raw;
                }
            }
        }
        format::exclude(&mut mapped, &self.req.query.exclude_fields);
        mapped
    }

    /// The `unified` record with `remote_data` written out from the provider's bytes instead
    /// of parsed and serialized again (parsing and serializing it were a third of a `get`:
    /// `bench/ANALYSIS.md`, "Third pass"): the same JSON value as [`Call::shape`] gives, as
    /// the provider wrote it (number spellings, escapes, spacing). `None` when the mapping
    /// writes a `remote_data` of its own.
    pub(super) fn shape_with_raw_remote(
        &self,
        record: &Value,
        body: &[u8],
        scope: &Scope,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let _span = tracing::info_span!(target: "unigate_otel", "mapping.response").entered();
        let mapped = self.map_record(record, scope)?;
        if !takes_raw_remote(&mapped) {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(body.len() + 256);
        self.write_with_raw_remote(&mut out, mapped, body)?;
        Ok(Some(out))
    }

    /// Appends to `out` the mapped record `mapped` with `raw`, the record's bytes, as its
    /// `remote_data`, as [`Call::shape_with_raw_remote`] gives it; for a `mapped` that
    /// [`takes_raw_remote`].
    fn write_with_raw_remote(&self, out: &mut Vec<u8>, mut mapped: Value, raw: &[u8]) -> Result<(), ApiError> {
        format::exclude(&mut mapped, &self.req.query.exclude_fields);
        let start = out.len();
        serde_json::to_writer(&mut *out, &mapped).map_err(ApiError::internal)?;
        // `{...}` becomes `{...,"remote_data":<raw>}`.
        out.pop();
        if out.len() - start > 1 {
            out.push(b',');
        }
        out.extend_from_slice(b"\"remote_data\":");
        out.extend_from_slice(raw.trim_ascii());
        out.push(b'}');
        Ok(())
    }

    /// Appends one record of a list page to `out` as the client gets it, from its parsed
    /// form and its bytes in the provider's answer ([`Call::record_spans`]): `raw`, those
    /// bytes; otherwise the record with those bytes as its `remote_data`, unless the mapping
    /// wrote a `remote_data` of its own (then the usual shaping, on the record mapped once).
    pub(super) fn write_record(
        &self,
        out: &mut Vec<u8>,
        record: Value,
        raw: &[u8],
        scope: &Scope,
    ) -> Result<(), ApiError> {
        if self.req.query.format == ResponseFormat::Raw {
            out.extend_from_slice(raw);
            return Ok(());
        }
        let mapped = self.map_record(&record, scope)?;
        self.write_mapped(out, mapped, record, Some(raw))
    }

    /// Appends the record `record`, already mapped as `mapped`, as the client gets it; `raw`,
    /// its bytes in the provider's answer where known ([`Call::record_spans`]).
    pub(super) fn write_mapped(
        &self,
        out: &mut Vec<u8>,
        mapped: Value,
        record: Value,
        raw: Option<&[u8]>,
    ) -> Result<(), ApiError> {
        match raw {
            Some(raw) if self.req.query.format == ResponseFormat::Raw => {
                out.extend_from_slice(raw);
                Ok(())
            }
            Some(raw) if takes_raw_remote(&mapped) => self.write_with_raw_remote(out, mapped, raw),
            _ if self.req.query.format == ResponseFormat::Raw => {
                serde_json::to_writer(&mut *out, &record).map_err(ApiError::internal)
            }
            _ => serde_json::to_writer(&mut *out, &self.finish(mapped, record)).map_err(ApiError::internal),
        }
    }

    /// Where each record of a page is in the provider's answer, when the records go out
    /// with their own bytes ([`Call::write_record`]), as a `get`'s `remote_data` does: the
    /// provider's number spellings, escapes and key order, and no serializing of what was
    /// parsed. That is `raw`, and `unified` or `stream` with `remote_data` neither dropped nor
    /// cut by `truto_exclude_fields`, when `response_path` is a path of names from `response`
    /// (or there is none) leading to an array of objects. `None` otherwise: the records are
    /// then written from their parsed form.
    pub(super) fn record_spans(
        &self,
        resource: &Resource,
        body: &[u8],
        records: &[Value],
    ) -> Option<Vec<Range<usize>>> {
        let q = &self.req.query;
        let applies = match q.format {
            ResponseFormat::Raw => true,
            ResponseFormat::Unified | ResponseFormat::Stream => {
                !q.ignore_remote_data && !q.exclude_fields.iter().any(|p| touches_remote_data(p))
            }
            ResponseFormat::Normalized => false,
        };
        if !applies || records.is_empty() {
            return None;
        }
        let path = match &resource.response_path {
            None => Vec::new(),
            Some(expr) => match expr.field_path()?.split_first() {
                Some((&"response", rest)) => rest.to_vec(),
                _ => return None,
            },
        };
        let spans = crate::mapping::reads::record_spans(body, &path)?;
        (spans.len() == records.len() && records.iter().all(Value::is_object)).then_some(spans)
    }
}

/// Whether a mapped record can have the provider's bytes appended as its `remote_data`: an
/// object, with no `remote_data` the mapping wrote itself.
fn takes_raw_remote(mapped: &Value) -> bool {
    mapped.is_object() && mapped.get("remote_data").is_none()
}

/// Whether a `truto_exclude_fields` path reaches into `remote_data`.
pub(super) fn touches_remote_data(path: &str) -> bool {
    path.split('.').find(|s| !s.is_empty()) == Some("remote_data")
}

/// JSON text already written, as the answer's body.
pub(super) fn json_bytes(body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Passes the provider's rate-limit state on as normalized `ratelimit-*` headers.
pub(super) fn with_ratelimit(mut response: Response, reply: &Reply) -> Response {
    for (name, value) in &reply.ratelimit {
        if let Ok(v) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, v);
        }
    }
    response
}

/// The provider's answer as it is: `raw`.
pub(super) fn raw_response(reply: &Reply) -> Response {
    let mut out = Response::new(Body::from(reply.body.clone()));
    *out.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    out.extensions_mut().insert(crate::error::ProviderBody);
    let ct = reply
        .headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json"));
    out.headers_mut().insert(header::CONTENT_TYPE, ct);
    out
}
