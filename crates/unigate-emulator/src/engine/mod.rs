//! The generic request handler: header rules → route → auth → op (get, list, create, merge,
//! replace, delete, render) → the provider-shaped answer. Nothing here knows a provider; all
//! behaviour comes from the [`EmulatorSpec`](crate::EmulatorSpec).
//!
//! Handling is synchronous and holds the state lock for the whole operation, so each request
//! sees and leaves a consistent state (an optimistic-version check and its write are atomic).
//!
//! Files, each importing only files below it in this list:
//!
//! - `mod.rs`: [`process`], the order of the steps and the dispatch to the ops.
//! - `routing.rs`: which route matches; `checks.rs`: header rules and authentication.
//! - the ops: `get.rs` (`get`, `render`), `list.rs` (`list` and its paging styles),
//!   `write.rs` (`create`, `merge`, `replace`) with `validate.rs` (the body's checks),
//!   `delete.rs`; `scim.rs` (a SCIM `PatchOp` body made plain for the write ops);
//!   `search.rs` (a search query such as Google's `query=`, read for `list`).
//! - `respond.rs`: records and failures as the provider's answers.
//! - `ctx.rs`: what the handling of one request knows, and the variables of templates.
//! - `failure.rs`: the failure types.

mod checks;
mod ctx;
mod delete;
mod failure;
mod get;
mod list;
mod respond;
mod routing;
mod scim;
mod search;
mod validate;
mod write;

#[cfg(test)]
mod tests;

use chrono::Utc;
use serde_json::Map;

use crate::exchange::{Incoming, Reply};
use crate::oauth;
use crate::spec::{BodyFormat, ErrorKind, Op, RouteSpec};
use crate::state::Shared;
use checks::{check_auth, check_delegated, check_header_rules};
use ctx::Ctx;
use delete::op_delete;
use failure::Failure;
use get::{op_get, op_render};
use list::op_list;
use respond::error_reply;
use routing::{match_route, parse_query, RouteMiss};
use write::{op_create, op_update};

/// Handles one request against the state. Never panics on bad input.
pub(crate) fn process(shared: &Shared, req: &Incoming) -> Reply {
    if let Some(reply) = oauth::handle(shared, req) {
        return reply;
    }
    let spec = &shared.spec;
    let mut ctx = Ctx {
        spec,
        req,
        route: None,
        params: Map::new(),
        query: parse_query(&req.query),
        now: Utc::now(),
    };
    let result = run(shared, &mut ctx);
    result.unwrap_or_else(|failure| error_reply(&ctx, failure))
}

fn run(shared: &Shared, ctx: &mut Ctx<'_>) -> Result<Reply, Failure> {
    let spec = ctx.spec;
    let req = ctx.req;
    check_header_rules(ctx)?;

    let matched = match_route(spec, req);
    let needs_auth = matched.as_ref().map_or(true, |(route, _)| route.auth);
    if needs_auth {
        check_auth(shared, ctx)?;
    }
    let (route, params) = matched.map_err(|miss| match miss {
        RouteMiss::MethodNotAllowed => Failure::new(ErrorKind::MethodNotAllowed, "Method Not Allowed"),
        RouteMiss::NoPath => Failure::new(ErrorKind::RouteNotFound, "Not Found"),
    })?;
    ctx.route = Some(route);
    ctx.params = params;
    if let Some(message) = &route.delegated_only {
        check_delegated(shared, ctx, message)?;
    }
    if let Some(missing) = route
        .required_query
        .iter()
        .find(|q| ctx.query.get(q.as_str()).is_none_or(|v| v.is_empty()))
    {
        return Err(Failure::new(
            ErrorKind::BadRequest,
            format!("Missing required query parameter: {missing}"),
        ));
    }
    check_body_format(route, ctx.req)?;

    let mut state = shared.lock();
    match route.op {
        Op::Get => op_get(ctx, route, &state),
        Op::List => op_list(ctx, route, &state),
        Op::Create => op_create(ctx, route, &mut state),
        Op::Merge | Op::Replace => op_update(ctx, route, &mut state),
        Op::Delete => op_delete(ctx, route, &mut state),
        Op::Render => op_render(ctx, route, &state),
    }
}

/// A body in another encoding than the route's `body_format` is refused, as a provider
/// that reads only forms (or only JSON) would.
fn check_body_format(route: &RouteSpec, req: &Incoming) -> Result<(), Failure> {
    let Some(format) = route.body_format else {
        return Ok(());
    };
    if req.body.iter().all(u8::is_ascii_whitespace) || (format == BodyFormat::Form) == req.is_form() {
        return Ok(());
    }
    let expected = match format {
        BodyFormat::Form => crate::exchange::FORM,
        BodyFormat::Json => "application/json",
    };
    Err(Failure::new(
        ErrorKind::BadRequest,
        format!("Unsupported content type: the body must be {expected}"),
    ))
}
