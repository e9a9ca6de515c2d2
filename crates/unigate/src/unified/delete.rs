//! `delete`: answered `{id}`, with the provider's answer as `remote_data` when it sent one.

use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::call::Call;
use super::format;
use super::query::ResponseFormat;
use super::shape::raw_response;
use crate::error::ApiError;
use crate::upstream::Outgoing;

impl Call {
    pub(super) async fn delete(self) -> Result<Response, ApiError> {
        let resource = &self.resource;
        let before = self.run_before().await?;
        let scope = self.scope(&before);
        let outgoing = Outgoing {
            query: self.provider_query(&scope)?,
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
