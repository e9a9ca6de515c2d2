//! `delete`: answered `{id}`, with the provider's answer as `remote_data` when it sent one.
//! A delete sends no body unless its mapping has a `request_body_mapping`.

use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::call::Call;
use super::failure::request_mapping_error;
use super::format;
use super::query::ResponseFormat;
use super::shape::raw_response;
use crate::error::ApiError;
use crate::upstream::Outgoing;

impl Call {
    pub(super) async fn delete(self: Box<Self>) -> Result<Response, ApiError> {
        let resource = &self.resource;
        let before = self.before().await?;
        let scope = self.scope(&before);
        // A provider whose removal is a write of what remains (Google Cloud's IAM policy
        // without the member) gets the body its mapping computes.
        let body = match &self.mapping.request_body_mapping {
            None => None,
            Some(expr) => Some(
                expr.eval_fields(scope.fields())
                    .map_err(|e| request_mapping_error(&self.integration, "request_body_mapping", expr, e))?
                    .unwrap_or_else(|| json!({})),
            ),
        };
        let outgoing = Outgoing {
            query: self.provider_query(&scope)?,
            body: body.filter(|b| !b.is_null()),
            ..Default::default()
        };
        let reply = self.exchange(resource, &before, outgoing).await??;
        if self.req.query.format == ResponseFormat::Raw {
            return Ok(raw_response(&reply));
        }
        let mut out = json!({ "id": self.id() });
        if !self.req.query.ignore_remote_data && !reply.json.is_null() {
            out["remote_data"] = reply.json.clone();
        }
        format::exclude(&mut out, &self.req.query.exclude_fields);
        Ok(axum::Json(out).into_response())
    }
}
