//! The `delete` op: removes the record, or with `soft_delete` marks it first (Okta
//! deactivates a user on the first DELETE and deletes it on the second), and answers.

use serde_json::Value;

use super::ctx::{collection_mut, path_id, Ctx};
use super::failure::{not_found, Failure};
use super::respond::{add_headers, set_content_type};
use crate::dotted::{get_path, set_path};
use crate::exchange::Reply;
use crate::spec::RouteSpec;
use crate::state::State;

pub(super) fn op_delete(ctx: &Ctx<'_>, route: &RouteSpec, state: &mut State) -> Result<Reply, Failure> {
    let coll = collection_mut(route, state)?;
    let id = path_id(ctx, route);
    let key = coll.find(&id).ok_or_else(|| not_found(&id))?;
    if let Some(soft) = &route.soft_delete {
        if let Some(Value::Object(current)) = coll.records.get(&key).cloned() {
            let done = soft
                .unless
                .iter()
                .all(|(field, want)| get_path(&current, field) == Some(want));
            if !done {
                let mut record = current;
                let vars = ctx.vars(vec![("record", Value::Object(record.clone()))]);
                for (field, template) in &soft.set {
                    set_path(&mut record, field, template.render(&vars));
                }
                coll.records.insert(key, Value::Object(record.clone()));
                return Ok(delete_reply(ctx, route, Value::Object(record)));
            }
        }
    }
    let removed = coll.records.shift_remove(&key).unwrap_or(Value::Null);
    Ok(delete_reply(ctx, route, removed))
}

/// The answer to a delete (or soft delete) of `record`.
fn delete_reply(ctx: &Ctx<'_>, route: &RouteSpec, record: Value) -> Reply {
    let removed = record;
    let response = &route.response;
    let vars = ctx.vars(vec![("record", removed)]);
    let mut reply = match &response.body {
        Some(body) => Reply::json(response.status.unwrap_or(200), &body.render(&vars)),
        None => Reply::empty(response.status.unwrap_or(204)),
    };
    add_headers(&mut reply, &response.headers, &vars);
    set_content_type(&mut reply, response);
    reply
}
