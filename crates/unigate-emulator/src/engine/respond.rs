//! Answers in the provider's shape: a record projected (`fields`, `omit`, `select_param`),
//! wrapped or rendered, with the route's status, headers and content type; and a failure
//! rendered with the error template of its kind (or of the kind it falls back to).

use indexmap::IndexMap;
use serde_json::{json, Value};

use super::ctx::Ctx;
use super::failure::Failure;
use crate::exchange::Reply;
use crate::spec::ResponseSpec;
use crate::template::StrTemplate;

/// Keeps `fields` / drops `omit` at the top level of a record.
pub(super) fn project(record: &Value, response: &ResponseSpec, query: &IndexMap<String, String>) -> Value {
    let Value::Object(map) = record else {
        return record.clone();
    };
    let selected: Option<Vec<String>> = response.select_param.as_ref().and_then(|p| query.get(p)).map(|v| {
        v.split(',')
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect()
    });
    let fields = selected.as_ref().unwrap_or(&response.fields);
    if fields.is_empty() && response.omit.is_empty() {
        return record.clone();
    }
    let kept = map
        .iter()
        .filter(|(k, _)| fields.is_empty() || fields.contains(k))
        .filter(|(k, _)| !response.omit.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

pub(super) fn record_reply(ctx: &Ctx<'_>, response: &ResponseSpec, default_status: u16, record: Value) -> Reply {
    let record = project(&record, response, &ctx.query);
    let vars = ctx.vars(vec![("record", record.clone())]);
    let body = match (&response.body, &response.wrap) {
        (Some(template), _) => template.render(&vars),
        (None, Some(key)) => json!({ key: record }),
        (None, None) => record,
    };
    let status = response.status.unwrap_or(default_status);
    // 204 has no body (NinjaOne's and Salesforce's PATCH): the client reads the record back.
    let mut reply = if status == 204 {
        Reply::empty(204)
    } else {
        Reply::json(status, &body)
    };
    add_headers(&mut reply, &response.headers, &vars);
    set_content_type(&mut reply, response);
    reply
}

pub(super) fn add_headers(reply: &mut Reply, headers: &IndexMap<String, StrTemplate>, vars: &Value) {
    for (name, value) in headers {
        reply.headers.push((name.clone(), value.render(vars)));
    }
}

pub(super) fn set_content_type(reply: &mut Reply, response: &ResponseSpec) {
    if let (Some(ct), true) = (&response.content_type, reply.content_type.is_some()) {
        reply.content_type = Some(ct.clone());
    }
}

/// Renders a failure with the provider's template for its kind (see [`ErrorKind::fallback`](crate::spec::ErrorKind::fallback)).
pub(super) fn error_reply(ctx: &Ctx<'_>, failure: Failure) -> Reply {
    let errors_spec = &ctx.spec.file.errors;
    let mut chain = vec![failure.kind];
    while let Some(next) = chain.last().and_then(|k| k.fallback()) {
        chain.push(next);
    }
    let found = chain.iter().find_map(|k| errors_spec.get(*k));
    let template = found.or(errors_spec.default.as_ref());
    let status = found.and_then(|t| t.status).unwrap_or_else(|| failure.kind.status());

    let field_errors: Vec<Value> = failure
        .errors
        .iter()
        .map(|e| {
            let code = errors_spec
                .field_error
                .as_ref()
                .and_then(|fe| fe.codes.get(e.code))
                .cloned()
                .unwrap_or_else(|| e.code.to_owned());
            let vars = json!({"field": e.field, "code": code, "message": e.message, "value": e.value});
            match &errors_spec.field_error {
                Some(fe) => fe.body.render(&vars),
                None => vars,
            }
        })
        .collect();
    let first = failure.errors.first();
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let base = vec![
        ("status", Value::from(status)),
        ("reason", Value::String(reason.into())),
        ("detail", Value::String(failure.detail.clone())),
        ("errors", Value::Array(field_errors)),
        (
            "field",
            first.map(|e| Value::String(e.field.clone())).unwrap_or(Value::Null),
        ),
        (
            "code",
            first.map(|e| Value::String(e.code.into())).unwrap_or(Value::Null),
        ),
        ("id", failure.id.clone().map(Value::String).unwrap_or(Value::Null)),
        ("value", failure.value.clone().map(Value::String).unwrap_or(Value::Null)),
        (
            "collection",
            ctx.route
                .and_then(|r| r.collection.clone())
                .map(Value::String)
                .unwrap_or(Value::Null),
        ),
    ];
    let pre_vars = ctx.vars(base.clone());
    let message = template
        .and_then(|t| t.message.as_ref())
        .map(|m| m.render(&pre_vars))
        .unwrap_or_else(|| failure.detail.clone());
    let mut extra = base;
    extra.push(("message", Value::String(message.clone())));
    let vars = ctx.vars(extra);

    // The body comes from the first template in the chain that has one, then `default`.
    let body_template = chain
        .iter()
        .filter_map(|k| errors_spec.get(*k))
        .chain(errors_spec.default.as_ref())
        .find_map(|t| t.body.as_ref());
    let body = match body_template {
        Some(t) => t.render(&vars),
        None => json!({ "message": message }),
    };
    let mut reply = Reply::json(status, &body);
    for challenge in &failure.challenges {
        reply.headers.push(("www-authenticate".into(), challenge.clone()));
    }
    if let Some(t) = template {
        add_headers(&mut reply, &t.headers, &vars);
        if let Some(ct) = &t.content_type {
            reply.content_type = Some(ct.clone());
            // A text body (Trello's `text/plain` errors) is sent as is, not as a JSON string.
            if let (false, Value::String(text)) = (ct.contains("json"), &body) {
                reply.body = text.clone().into_bytes();
            }
        }
    }
    reply
}
