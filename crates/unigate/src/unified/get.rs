//! `get`: one record. Its answer is parsed only as far as the client's answer needs
//! ([`Call::parse_for_get`]); `stream` passes the provider's body through unbuffered.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::Value;

use super::call::Call;
use super::query::ResponseFormat;
use super::shape::{json_bytes, raw_response, touches_remote_data, with_ratelimit};
use crate::catalog::Resource;
use crate::error::ApiError;
use crate::upstream::{Outgoing, Parse, UpstreamError, UpstreamRequest};

impl Call {
    pub(super) async fn get(self: Box<Self>) -> Result<Response, ApiError> {
        let resource = &self.resource;
        let before = self.before().await?;
        let scope = self.scope(&before);
        let raw_remote = self.raw_remote_applies(resource);
        let outgoing = Outgoing {
            query: self.provider_query(&scope)?,
            parse: self.parse_for_get(resource, raw_remote),
            ..Default::default()
        };
        // A record picked out of the answer (`response_path`: some providers have no get,
        // so the list is filtered) may be missing: that is a 404 in every format, so such
        // an answer is read before it is passed on, even in `stream`.
        if self.req.query.format == ResponseFormat::Stream && resource.response_path.is_none() {
            let req = self.request(resource, &before, outgoing)?;
            // Boxed, as the exchange below: a rare path whose state every `get` would carry.
            return Box::pin(self.stream_through(req)).await;
        }
        let mut reply = Box::pin(self.exchange(resource, &before, outgoing)).await??;
        if matches!(self.req.query.format, ResponseFormat::Raw | ResponseFormat::Stream) {
            if resource.response_path.is_some() && self.select(resource, &reply)?.is_null() {
                return Err(self.record_not_found());
            }
            return Ok(raw_response(&reply));
        }
        // No body at all is a broken answer, not an answer that the record does not exist
        // (that would tell a syncing client to delete it): JSON `null` is the latter.
        if crate::upstream::is_blank(&reply.body) {
            return Err(self.empty_answer(&reply, "a record"));
        }
        // The whole answer is the record: an array or a text is not one.
        if resource.response_path.is_none() && !(reply.json.is_object() || reply.json.is_null()) {
            let answer = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            return Err(self.not_a_record(answer));
        }
        // An empty answer (`null`) goes on to the "not found" below, on either path.
        if raw_remote && !reply.json.is_null() {
            match self.shape_with_raw_remote(&reply.json, &reply.body, &scope)? {
                Some(body) => return Ok(with_ratelimit(json_bytes(body), &reply)),
                // The mapping wrote a `remote_data` of its own: the usual shaping, on all of
                // the answer (so far parsed only as far as the mapping reads it).
                None => reply.json = serde_json::from_slice(&reply.body).map_err(ApiError::internal)?,
            }
        }
        let record = self.take_record(resource, &mut reply)?;
        if record.is_null() {
            return Err(self.record_not_found());
        }
        if !record.is_object() {
            return Err(self.not_a_record(record));
        }
        Ok(with_ratelimit(
            axum::Json(self.shape(record, &scope)?).into_response(),
            &reply,
        ))
    }

    /// Whether a `get` of `resource` answers with [`Call::shape_with_raw_remote`]: a `unified`
    /// answer with a response mapping, whose `remote_data` is the provider's whole answer,
    /// neither ignored nor cut by `truto_exclude_fields`. The provider's answer is then parsed
    /// only as far as the mapping reads it (`Parse::For`).
    fn raw_remote_applies(&self, resource: &Resource) -> bool {
        let q = &self.req.query;
        q.format == ResponseFormat::Unified
            && !q.ignore_remote_data
            && !q.exclude_fields.iter().any(|p| touches_remote_data(p))
            && resource.response_path.is_none()
            && self.mapping.response_mapping.is_some()
    }

    /// How much of a `get`'s answer to parse, when the whole answer is the record (no
    /// `response_path` picks it out): only what the mapping reads when nothing else of it
    /// reaches the client (`remote_data` written from the bytes, see
    /// [`Call::raw_remote_applies`], or not written at all: `normalized`,
    /// `truto_ignore_remote_data`); nothing when the bytes are passed on as they are (`raw`;
    /// `stream` does not read them at all); else all of it.
    fn parse_for_get(&self, resource: &Resource, raw_remote: bool) -> Parse {
        let q = &self.req.query;
        if resource.response_path.is_some() {
            return Parse::Whole;
        }
        let no_remote_data = match q.format {
            ResponseFormat::Normalized => true,
            ResponseFormat::Unified => q.ignore_remote_data,
            ResponseFormat::Raw | ResponseFormat::Stream => false,
        };
        match &self.mapping.response_mapping {
            Some(expr) if raw_remote || no_remote_data => Parse::For(expr.clone()),
            _ if q.format == ResponseFormat::Raw => Parse::Check,
            _ => Parse::Whole,
        }
    }

    /// `stream` for a single record: the provider body flows through unbuffered.
    async fn stream_through(&self, req: UpstreamRequest) -> Result<Response, ApiError> {
        let response = self.state.upstream.send(&self.integration, &req).await?;
        if !response.status.is_success() {
            // Errors are small: read them (bounded) to answer in the usual shape.
            let status = response.status.as_u16();
            let headers = response.headers.clone();
            let bytes = response.bytes().await.unwrap_or_default();
            let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).into_owned())
            });
            let rate_limited = self
                .state
                .upstream
                .rate_limited(&self.integration, status, &headers, Some(&body));
            return Err(UpstreamError::Status {
                integration: self.integration.name().to_string(),
                status,
                message: crate::upstream::error_message(&self.integration, status, &headers, &body),
                body: Box::new(body),
                headers: Box::new(headers),
                rate_limited,
            }
            .into());
        }
        let status = StatusCode::from_u16(response.status.as_u16()).unwrap_or(StatusCode::OK);
        let content_type = response.headers.get(header::CONTENT_TYPE).cloned();
        // The bytes pass through as sent, so their coding must too (a provider that
        // compresses despite `Accept-Encoding: identity`): the client decodes them.
        let encoding = response.headers.get(header::CONTENT_ENCODING).cloned();
        let stream = response.bytes_stream().map(|r| r.map_err(std::io::Error::other));
        let mut out = Response::new(axum::body::Body::from_stream(stream));
        *out.status_mut() = status;
        out.extensions_mut().insert(crate::error::ProviderBody);
        if let Some(ct) = content_type {
            out.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        if let Some(e) = encoding {
            out.headers_mut().insert(header::CONTENT_ENCODING, e);
        }
        Ok(out)
    }
}
