//! What the handling of one request knows: [`Ctx`] (the spec, the request, the matched route
//! and its path parameters, the query, the time) and the variables every template may read;
//! the collection and record id a route addresses; the JSON body.

use chrono::{SecondsFormat, Utc};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::failure::Failure;
use crate::exchange::Incoming;
use crate::spec::{EmulatorSpec, ErrorKind, RouteSpec};
use crate::state::{Collection, State};
use crate::template::value_to_text;

/// What every template may read about the current request.
pub(super) struct Ctx<'a> {
    pub(super) spec: &'a EmulatorSpec,
    pub(super) req: &'a Incoming,
    pub(super) route: Option<&'a RouteSpec>,
    pub(super) params: Map<String, Value>,
    pub(super) query: IndexMap<String, String>,
    pub(super) now: chrono::DateTime<Utc>,
}

impl Ctx<'_> {
    /// The template context object; `extra` adds or overrides top-level names.
    pub(super) fn vars(&self, extra: Vec<(&str, Value)>) -> Value {
        let mut vars = Map::new();
        vars.insert("credentials".into(), Value::Object(self.spec.credentials().clone()));
        vars.insert("params".into(), Value::Object(self.params.clone()));
        let query = self
            .query
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        vars.insert("query".into(), Value::Object(query));
        vars.insert(
            "now".into(),
            Value::String(self.now.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        vars.insert("method".into(), Value::String(self.req.method.to_string()));
        vars.insert("path".into(), Value::String(self.req.path.clone()));
        vars.insert(
            "base_url".into(),
            Value::String(format!("{}{}", self.req.origin(), self.spec.file.base_path)),
        );
        for (k, v) in extra {
            vars.insert(k.to_owned(), v);
        }
        Value::Object(vars)
    }
}

pub(super) fn collection<'s>(route: &RouteSpec, state: &'s State) -> Result<&'s Collection, Failure> {
    route
        .collection
        .as_ref()
        .and_then(|c| state.collections.get(c))
        .ok_or_else(|| Failure::new(ErrorKind::RouteNotFound, "Not Found"))
}

pub(super) fn collection_mut<'s>(route: &RouteSpec, state: &'s mut State) -> Result<&'s mut Collection, Failure> {
    route
        .collection
        .as_ref()
        .and_then(|c| state.collections.get_mut(c))
        .ok_or_else(|| Failure::new(ErrorKind::RouteNotFound, "Not Found"))
}

pub(super) fn path_id(ctx: &Ctx<'_>, route: &RouteSpec) -> String {
    if let Some(template) = &route.id_template {
        let body = ctx.req.body_value().and_then(Result::ok).unwrap_or(Value::Null);
        return template.render(&ctx.vars(vec![("body", body)]));
    }
    route
        .id_param()
        .and_then(|p| ctx.params.get(p))
        .map(value_to_text)
        .unwrap_or_default()
}

/// `Ok(None)` for an empty body; a JSON object (or a form's fields, as an object)
/// otherwise; anything else is a bad request.
pub(super) fn parse_body(req: &Incoming) -> Result<Option<Map<String, Value>>, Failure> {
    match req.body_value() {
        None => Ok(None),
        Some(Ok(Value::Object(map))) => Ok(Some(map)),
        Some(Ok(_)) => Err(Failure::new(ErrorKind::BadRequest, "Body should be a JSON object")),
        Some(Err(message)) => Err(Failure::new(ErrorKind::BadRequest, message)),
    }
}
