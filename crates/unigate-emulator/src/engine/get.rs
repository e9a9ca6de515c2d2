//! The ops that answer one document: `get` (a record by id, or by a lookup field or alias)
//! and `render` (`response.body` rendered, e.g. a `/self` document, optionally over every
//! collection).

use serde_json::{Map, Value};

use super::ctx::{collection, path_id, Ctx};
use super::failure::{not_found, Failure};
use super::respond::{add_headers, record_reply, set_content_type};
use crate::exchange::Reply;
use crate::spec::RouteSpec;
use crate::state::State;

pub(super) fn op_get(ctx: &Ctx<'_>, route: &RouteSpec, state: &State) -> Result<Reply, Failure> {
    let coll = collection(route, state)?;
    let id = path_id(ctx, route);
    let key = coll.find(&id).ok_or_else(|| not_found(&id))?;
    let record = coll.records.get(&key).cloned().unwrap_or(Value::Null);
    Ok(record_reply(ctx, &route.response, 200, record))
}

pub(super) fn op_render(ctx: &Ctx<'_>, route: &RouteSpec, state: &State) -> Result<Reply, Failure> {
    let mut extra = Vec::new();
    let mentions_collections = route.response.body.as_ref().is_some_and(|b| b.mentions("collections"));
    if mentions_collections {
        let all: Map<String, Value> = state
            .collections
            .iter()
            .map(|(name, c)| (name.clone(), Value::Array(c.records.values().cloned().collect())))
            .collect();
        extra.push(("collections", Value::Object(all)));
    }
    let vars = ctx.vars(extra);
    let body = route
        .response
        .body
        .as_ref()
        .map(|b| b.render(&vars))
        .unwrap_or(Value::Null);
    let mut reply = Reply::json(route.response.status.unwrap_or(200), &body);
    add_headers(&mut reply, &route.response.headers, &vars);
    set_content_type(&mut reply, &route.response);
    Ok(reply)
}
