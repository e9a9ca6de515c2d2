//! The write ops, `create` and `merge`/`replace`: the body (unwrapped when the route says
//! so), ids, optimistic versions, protected fields, deep merges, defaults, timestamps and
//! fields set on write. The body's checks are in `validate.rs`.

use chrono::{SecondsFormat, Utc};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::ctx::{collection_mut, parse_body, path_id, Ctx};
use super::failure::{not_found, Failure, FieldError};
use super::respond::record_reply;
use super::scim::plain_body;
use super::validate::validate;
use crate::dotted::{get_path, set_path, top_field};
use crate::exchange::{Incoming, Reply};
use crate::spec::{ErrorKind, Op, RouteSpec, TimeFormat, WriteSpec};
use crate::state::{Collection, State};
use crate::template::{value_to_text, Template};

pub(super) fn op_create(ctx: &Ctx<'_>, route: &RouteSpec, state: &mut State) -> Result<Reply, Failure> {
    let write = &route.write;
    let body = write_body(ctx.req, write)?;
    let copied = copy_source(ctx, write, state, &body)?;
    let ids = array_op_source(ctx, write, &body);
    let additions = array_additions(write, state, &ids)?;
    let coll = collection_mut(route, state)?;
    validate(write, &coll.spec.version_field, &body)?;
    let id_field = coll.spec.id_field.clone();
    let mut protected = protected_fields(coll, write);
    protected.extend(array_op_body_fields(write));

    let id = match get_path(&body, &id_field).filter(|v| !v.is_null() && !write.read_only.contains(&id_field)) {
        Some(given) => {
            if coll.find(&value_to_text(given)).is_some() {
                return Err(Failure::new(ErrorKind::Conflict, format!("{id_field} already exists")));
            }
            given.clone()
        }
        None => coll.new_id().ok_or_else(|| {
            Failure::fields(
                ErrorKind::Validation,
                vec![FieldError::new(
                    &id_field,
                    "missing",
                    format!("{id_field} is required"),
                    None,
                )],
            )
        })?,
    };
    let mut record = Map::new();
    set_path(&mut record, &id_field, id.clone());
    let vars = ctx.vars(vec![("id", id.clone()), ("body", Value::Object(body.clone()))]);
    for (field, value) in copied {
        if field != id_field {
            record.insert(field, value);
        }
    }
    for (field, value) in &body {
        if !protected.contains(field) {
            record.insert(field.clone(), value.clone());
        }
    }
    for (field, template) in &coll.spec.defaults {
        if !record.contains_key(field) {
            record.insert(field.clone(), template.render(&vars));
        }
    }
    if let Some(version) = &coll.spec.version_field {
        set_path(&mut record, version, Value::from(coll.spec.version_start));
    }
    apply_array_ops(write, &mut record, &ids, &additions)?;
    stamp(coll, &mut record, ctx.now, true);
    apply_set(&write.set, &mut record, ctx, &body);
    let record = Value::Object(record);
    coll.insert(record.clone());
    Ok(record_reply(ctx, &route.response, 201, record))
}

pub(super) fn op_update(ctx: &Ctx<'_>, route: &RouteSpec, state: &mut State) -> Result<Reply, Failure> {
    let write = &route.write;
    let body = write_body(ctx.req, write)?;
    let ids = array_op_source(ctx, write, &body);
    let additions = array_additions(write, state, &ids)?;
    let coll = collection_mut(route, state)?;
    let id = path_id(ctx, route);
    let key = coll.find(&id).ok_or_else(|| not_found(&id))?;
    validate(write, &coll.spec.version_field, &body)?;
    let current = coll.records.get(&key).cloned().unwrap_or(Value::Null);
    let Value::Object(current) = current else {
        return Err(not_found(&id));
    };

    if write.optimistic_version {
        if let Some(field) = &coll.spec.version_field {
            let stored = get_path(&current, field);
            // The expected version comes from a header (Contentful's `X-Contentful-Version`)
            // or from the body; both are compared as text, since a header has no types.
            let (sent, fresh) = match &write.version_header {
                Some(header) => {
                    let sent = ctx.req.header(header).map(|v| v.trim().to_owned());
                    let fresh = sent.is_some() && sent == stored.map(value_to_text);
                    (sent, fresh)
                }
                None => {
                    let sent = get_path(&body, field);
                    (sent.map(value_to_text), sent == stored)
                }
            };
            if !fresh {
                let detail = format!(
                    "Stale {field}: sent {}, current {}",
                    sent.unwrap_or_default(),
                    stored.map(value_to_text).unwrap_or_default()
                );
                return Err(Failure::new(ErrorKind::Conflict, detail).with_id(&id));
            }
        }
    }

    let mut protected = protected_fields(coll, write);
    protected.extend(array_op_body_fields(write));
    let mut record = current.clone();
    if route.op == Op::Replace {
        // PUT: fields the client left out are gone, except those it cannot write.
        record.retain(|field, _| body.contains_key(field) || protected.contains(field));
    }
    for (field, value) in &body {
        if protected.contains(field) {
            continue;
        }
        match record.get_mut(field) {
            Some(stored) if write.deep_merge && route.op == Op::Merge => merge_into(stored, value),
            _ => {
                record.insert(field.clone(), value.clone());
            }
        }
    }
    if let Some(field) = &coll.spec.version_field {
        let next = get_path(&current, field)
            .and_then(Value::as_i64)
            .unwrap_or(coll.spec.version_start)
            + 1;
        set_path(&mut record, field, Value::from(next));
    }
    apply_array_ops(write, &mut record, &ids, &additions)?;
    stamp(coll, &mut record, ctx.now, false);
    apply_set(&write.set, &mut record, ctx, &body);
    let record = Value::Object(record);
    coll.records.insert(key, record.clone());
    Ok(record_reply(ctx, &route.response, 200, record))
}

/// The fields of the record `write.copy_from` names (none without it).
fn copy_source(
    ctx: &Ctx<'_>,
    write: &WriteSpec,
    state: &State,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>, Failure> {
    let Some(copy) = &write.copy_from else {
        return Ok(Map::new());
    };
    let reference = match (&copy.id, &copy.id_body_field) {
        (Some(template), _) => template.render(&ctx.vars(vec![("body", Value::Object(body.clone()))])),
        (None, Some(field)) => body.get(field).map(value_to_text).unwrap_or_default(),
        (None, None) => String::new(),
    };
    let id = reference.rsplit('/').next().unwrap_or_default();
    let source = state
        .collections
        .get(&copy.collection)
        .and_then(|c| c.find(id).and_then(|key| c.records.get(&key)));
    match source {
        Some(Value::Object(record)) => Ok(record.clone()),
        _ => Err(not_found(id)),
    }
}

/// What the array ops read their ids from: the body, and the path parameters as
/// `$params` (`add: $params.teamId`, Make's `POST /users/{userId}/user-team-roles/{teamId}`).
fn array_op_source(ctx: &Ctx<'_>, write: &WriteSpec, body: &Map<String, Value>) -> Map<String, Value> {
    if write.array_ops.is_empty() {
        return Map::new();
    }
    let mut source = body.clone();
    source.insert("$params".into(), Value::Object(ctx.params.clone()));
    source
}

/// The ids at a body path of an array op: an array's elements, a text list split on the
/// op's separator, or one id (none when the path is absent or null).
fn op_ids(body: &Map<String, Value>, path: Option<&String>, split: Option<&str>) -> Vec<Value> {
    match (path.and_then(|p| get_path(body, p)), split) {
        (Some(Value::Array(ids)), _) => ids.clone(),
        (None | Some(Value::Null), _) => Vec::new(),
        (Some(Value::String(text)), Some(separator)) => text
            .split(separator)
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| Value::String(id.to_owned()))
            .collect(),
        (Some(one), _) => vec![one.clone()],
    }
}

/// For each of `write.array_ops`, the elements its `add` ids bring: the `from` records,
/// projected on `fields`, read before the written collection is borrowed (without
/// `from`, each id as sent).
fn array_additions(
    write: &WriteSpec,
    state: &State,
    body: &Map<String, Value>,
) -> Result<Vec<Vec<(String, Value)>>, Failure> {
    write
        .array_ops
        .iter()
        .map(|op| {
            op_ids(body, op.add.as_ref(), op.split.as_deref())
                .into_iter()
                .map(|sent| {
                    let id = value_to_text(&sent);
                    let Some(from) = &op.from else {
                        return Ok((id, sent));
                    };
                    let record = state
                        .collections
                        .get(from)
                        .and_then(|c| c.find(&id).and_then(|key| c.records.get(&key)))
                        .and_then(Value::as_object)
                        .ok_or_else(|| not_found(&id))?;
                    let mut element: Map<String, Value> = record
                        .iter()
                        .filter(|(k, _)| op.fields.is_empty() || op.fields.contains(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    element.extend(op.with.iter().map(|(k, v)| (k.clone(), v.clone())));
                    Ok((id, Value::Object(element)))
                })
                .collect()
        })
        .collect()
}

/// The top-level body fields the array ops read their ids from: never written as sent.
fn array_op_body_fields(write: &WriteSpec) -> Vec<String> {
    write
        .array_ops
        .iter()
        .flat_map(|op| [op.add.as_deref(), op.remove.as_deref()])
        .flatten()
        .map(|path| top_field(path).to_owned())
        .collect()
}

/// Applies each array op to the record: removals, then additions not there yet; a result
/// shorter than the op's `min_items` is a `validation` error and changes nothing.
fn apply_array_ops(
    write: &WriteSpec,
    record: &mut Map<String, Value>,
    body: &Map<String, Value>,
    additions: &[Vec<(String, Value)>],
) -> Result<(), Failure> {
    for (op, added) in write.array_ops.iter().zip(additions) {
        // An op the body says nothing about leaves a record without the array as it is
        // (Elastic's `deployment` assignments when only `organization` ones are added).
        let mentioned = [&op.add, &op.remove]
            .into_iter()
            .flatten()
            .any(|path| get_path(body, path).is_some());
        if !mentioned && get_path(record, &op.field).is_none() {
            continue;
        }
        // An element is compared by its `key` field, or itself when the array holds ids.
        let key_of = |v: &Value| match &op.from {
            Some(_) => v.get(&op.key).map(value_to_text).unwrap_or_default(),
            None => value_to_text(v),
        };
        let removed: Vec<String> = op_ids(body, op.remove.as_ref(), op.split.as_deref())
            .iter()
            .map(value_to_text)
            .collect();
        let mut elements: Vec<Value> = get_path(record, &op.field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        elements.retain(|e| !removed.contains(&key_of(e)));
        for (id, element) in added {
            if !elements.iter().any(|e| key_of(e) == *id) {
                elements.push(element.clone());
            }
        }
        if elements.len() < op.min_items {
            let message = format!("{} must keep at least {} item(s)", op.field, op.min_items);
            return Err(Failure::fields(
                ErrorKind::Validation,
                vec![FieldError::new(&op.field, "too_short", message, None)],
            ));
        }
        set_path(record, &op.field, Value::Array(elements));
    }
    Ok(())
}

/// Merges `patch` into `stored`: objects key by key, recursively; anything else replaces.
fn merge_into(stored: &mut Value, patch: &Value) {
    match (stored, patch) {
        (Value::Object(stored), Value::Object(patch)) => {
            for (k, v) in patch {
                match stored.get_mut(k) {
                    Some(inner) => merge_into(inner, v),
                    None => {
                        stored.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (stored, patch) => *stored = patch.clone(),
    }
}

/// Fields a write never takes from the body: the id, version, timestamps and `read_only`.
/// A dotted one (`sys.version`) protects the whole top-level field it lives in (`sys`).
fn protected_fields(coll: &Collection, write: &WriteSpec) -> Vec<String> {
    let mut fields = write.read_only.clone();
    let mut managed = vec![coll.spec.id_field.as_str()];
    managed.extend(coll.spec.version_field.as_deref());
    if let Some(ts) = &coll.spec.timestamps {
        managed.extend(ts.created.as_deref());
        managed.extend(ts.updated.as_deref());
    }
    fields.extend(managed.into_iter().map(|f| top_field(f).to_owned()));
    fields
}

fn stamp(coll: &Collection, record: &mut Map<String, Value>, now: chrono::DateTime<Utc>, created: bool) {
    let Some(ts) = &coll.spec.timestamps else {
        return;
    };
    let value = match ts.format {
        TimeFormat::Rfc3339 => Value::String(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
        TimeFormat::Rfc3339Millis => Value::String(now.to_rfc3339_opts(SecondsFormat::Millis, true)),
        TimeFormat::Unix => Value::from(now.timestamp()),
        TimeFormat::UnixMillis => Value::from(now.timestamp_millis()),
    };
    if created {
        if let Some(field) = &ts.created {
            set_path(record, field, value.clone());
        }
    }
    if let Some(field) = &ts.updated {
        set_path(record, field, value);
    }
}

fn apply_set(
    set: &IndexMap<String, Template>,
    record: &mut Map<String, Value>,
    ctx: &Ctx<'_>,
    body: &Map<String, Value>,
) {
    if set.is_empty() {
        return;
    }
    let vars = ctx.vars(vec![
        ("record", Value::Object(record.clone())),
        ("body", Value::Object(body.clone())),
    ]);
    for (field, template) in set {
        record.insert(field.clone(), template.render(&vars));
    }
}

/// The JSON object a write carries, unwrapped when the route says so (or a SCIM
/// `PatchOp` made plain).
fn write_body(req: &Incoming, write: &WriteSpec) -> Result<Map<String, Value>, Failure> {
    let body = parse_body(req)?.unwrap_or_default();
    if write.scim_patch {
        return plain_body(&body);
    }
    let Some(key) = &write.unwrap else {
        return Ok(body);
    };
    match body.get(key) {
        Some(Value::Object(inner)) => Ok(inner.clone()),
        Some(other) => Err(Failure::fields(
            ErrorKind::Validation,
            vec![FieldError::new(
                key,
                "type",
                format!("{key} must be an object"),
                Some(other),
            )],
        )),
        None => Err(Failure::fields(
            ErrorKind::Validation,
            vec![FieldError::new(key, "missing", format!("{key} is required"), None)],
        )),
    }
}
