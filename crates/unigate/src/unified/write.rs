//! `create` and `update`: the body through its mapping with `remote_data` merged in, sent;
//! a provider that refuses a stale version is read, merged and written again
//! (`retry_on_conflict`); a write answered with no body is read back.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::call::Call;
use super::failure::request_mapping_error;
use super::format;
use super::query::ResponseFormat;
use super::shape::{raw_response, with_ratelimit};
use crate::catalog::types::UnifiedMethod;
use crate::error::ApiError;
use crate::upstream::Outgoing;

impl Call {
    pub(super) async fn write(self: Box<Self>) -> Result<Response, ApiError> {
        let resource = &self.resource;
        self.refuse_unwritable_fields()?;
        let max_attempts = self
            .mapping
            .retry_on_conflict
            .as_ref()
            .map(|r| r.max_attempts.max(1))
            .unwrap_or(1);
        let mut attempt = 0;
        let (mut reply, scope) = loop {
            attempt += 1;
            let before = self.before().await?;
            let scope = self.scope(&before);
            let mut body = match &self.mapping.request_body_mapping {
                None => self.body.clone(),
                Some(expr) => expr
                    .eval_fields(scope.fields())
                    .map_err(|e| request_mapping_error(&self.integration, "request_body_mapping", expr, e))?
                    .unwrap_or_else(|| json!({})),
            };
            if let Some(remote) = &self.remote_data {
                format::deep_merge(&mut body, remote);
            }
            let outgoing = Outgoing {
                query: self.provider_query(&scope)?,
                // A body mapping that gives `null` sends no body (Okta's
                // `PUT /groups/{id}/users/{userId}` for a group's `add-user`).
                body: (!body.is_null()).then_some(body),
                ..Default::default()
            };
            match self.exchange(resource, &before, outgoing).await? {
                Ok(reply) => break (reply, scope),
                Err(e) => {
                    let conflict = self
                        .mapping
                        .retry_on_conflict
                        .as_ref()
                        .zip(e.status())
                        .is_some_and(|(r, s)| r.statuses.contains(&s));
                    if conflict && attempt < max_attempts {
                        tracing::info!(
                            integration = self.integration.name(),
                            attempt,
                            "write conflicted; reading and merging again"
                        );
                        continue;
                    }
                    let mut err = ApiError::from(e);
                    if conflict {
                        err.message = format!(
                            "{} The record kept changing during {attempt} attempts; try again.",
                            err.message
                        );
                    }
                    return Err(err);
                }
            }
        };
        if self.req.query.format == ResponseFormat::Raw {
            return Ok(raw_response(&reply));
        }
        let mut record = self.take_record(resource, &mut reply)?;
        if record.is_null() {
            // Some providers answer a write with no body: read the record back.
            if let (Some(get), Some(_)) = (
                self.integration
                    .unified(&self.req.category, &self.req.resource, UnifiedMethod::Get),
                &self.req.id,
            ) {
                let mut reply = self.exchange(&get.resource, &json!({}), Outgoing::default()).await??;
                record = self.take_record(&get.resource, &mut reply)?;
            }
        }
        let status = if self.req.method == UnifiedMethod::Create && self.req.custom.is_none() {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(with_ratelimit(
            (status, axum::Json(self.shape(record, &scope)?)).into_response(),
            &reply,
        ))
    }

    /// A change the provider cannot make is refused before any call, never dropped: the
    /// fields the mapping declares unsupported, and any field given that no mapping of the
    /// write reads (`created_at`, a field of another model, a typo).
    fn refuse_unwritable_fields(&self) -> Result<(), ApiError> {
        let mut refused: Vec<&String> = self
            .mapping
            .unsupported_fields
            .iter()
            .filter(|f| self.body.get(f.as_str()).is_some_and(|v| !v.is_null()))
            .collect();
        for f in self.unread_body_fields() {
            if !refused.contains(&f) {
                refused.push(f);
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = refused.iter().map(|f| format!("`{f}`")).collect();
        Err(ApiError::unprocessable(format!(
            "{} cannot {} {} of {}: the provider's API does not allow it. Leave {} out of the request; `GET /integration/{}` documents what can be written.",
            self.integration.config.label,
            self.req.custom.as_deref().unwrap_or(self.req.method.as_str()),
            names.join(", "),
            self.req.resource,
            if names.len() == 1 { "it" } else { "them" },
            self.integration.name(),
        ))
        .with_details(json!({ "integration": self.integration.name(), "unsupported_fields": refused })))
    }

    /// The fields of a write's body (besides `id`) that neither its body mapping nor its
    /// query mapping reads, so would never reach the provider. None when a mapping may read
    /// the whole body (or there is no body mapping: the body is sent as it is).
    fn unread_body_fields(&self) -> Vec<&String> {
        use crate::mapping::reads::Reads;
        let Some(body_mapping) = &self.mapping.request_body_mapping else {
            return Vec::new();
        };
        let mappings = [Some(body_mapping), self.mapping.query_mapping.as_ref()];
        let mut read = std::collections::BTreeSet::new();
        for reads in mappings.into_iter().flatten().filter_map(|m| m.reads_of("body")) {
            match reads {
                Reads::All => return Vec::new(),
                Reads::Fields(fields) => read.extend(fields.keys()),
            }
        }
        // The raw resource's path, and its side loads' paths, may place body values too (a
        // custom method's ids).
        let paths = std::iter::once(&self.resource).chain(self.mapping.before.iter().map(|(_, r, _)| r));
        for path in paths.flat_map(|r| r.path.variables()) {
            if let [first, field, ..] = path {
                if first == "body" {
                    read.insert(field);
                }
            }
        }
        let Value::Object(given) = &self.body else {
            return Vec::new();
        };
        given
            .iter()
            .filter(|(k, v)| k.as_str() != "id" && !v.is_null() && !read.contains(k))
            .map(|(k, _)| k)
            .collect()
    }
}
