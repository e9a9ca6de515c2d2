//! The generic request handler: header rules → route → auth → op (get, list, create, merge,
//! replace, delete, render) → the provider-shaped answer. Nothing here knows a provider; all
//! behaviour comes from the [`EmulatorSpec`].
//!
//! Handling is synchronous and holds the state lock for the whole operation, so each request
//! sees and leaves a consistent state (an optimistic-version check and its write are atomic).

use base64::Engine as _;
use chrono::{SecondsFormat, Utc};
use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::dotted::{get_path, set_path, top_field};
use crate::exchange::{Incoming, Reply};
use crate::spec::{
    EmulatorSpec, ErrorKind, FieldRule, FieldType, Op, PageStyle, PaginateSpec, ParamsIn, ReadOnlyMode, ResponseSpec,
    RouteSpec, TimeFormat, WriteSpec,
};
use crate::state::{Collection, Shared, State};
use crate::template::{value_to_text, Template};

/// One failed field check.
#[derive(Debug, Clone)]
pub(crate) struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
    pub value: Value,
}

impl FieldError {
    fn new(field: &str, code: &'static str, message: String, value: Option<&Value>) -> Self {
        FieldError {
            field: field.to_owned(),
            code,
            message,
            value: value.cloned().unwrap_or(Value::Null),
        }
    }
}

/// An error on its way to the provider's error template.
#[derive(Debug)]
pub(crate) struct Failure {
    kind: ErrorKind,
    detail: String,
    errors: Vec<FieldError>,
    id: Option<String>,
    value: Option<String>,
    /// `WWW-Authenticate` values sent with the answer (HTTP Digest challenges). A boxed
    /// slice, not a `Vec`, to keep every `Result<_, Failure>` small.
    challenges: Box<[String]>,
}

impl Failure {
    fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Failure {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            id: None,
            value: None,
            challenges: Box::default(),
        }
    }

    fn fields(kind: ErrorKind, errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ");
        Failure {
            errors,
            ..Failure::new(kind, detail)
        }
    }

    fn with_id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }
}

/// What every template may read about the current request.
struct Ctx<'a> {
    spec: &'a EmulatorSpec,
    req: &'a Incoming,
    route: Option<&'a RouteSpec>,
    params: Map<String, Value>,
    query: IndexMap<String, String>,
    now: chrono::DateTime<Utc>,
}

impl Ctx<'_> {
    /// The template context object; `extra` adds or overrides top-level names.
    fn vars(&self, extra: Vec<(&str, Value)>) -> Value {
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

/// Handles one request against the state. Never panics on bad input.
pub(crate) fn process(shared: &Shared, req: &Incoming) -> Reply {
    if let Some(reply) = crate::oauth::handle(shared, req) {
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

enum RouteMiss {
    MethodNotAllowed,
    NoPath,
}

fn match_route<'a>(spec: &'a EmulatorSpec, req: &Incoming) -> Result<(&'a RouteSpec, Map<String, Value>), RouteMiss> {
    let base = &spec.file.base_path;
    let rest = req.path.strip_prefix(base.as_str()).ok_or(RouteMiss::NoPath)?;
    if !rest.starts_with('/') {
        return Err(RouteMiss::NoPath);
    }
    let parts: Vec<String> = rest.split('/').skip(1).map(percent_decode).collect();
    let mut path_matched = false;
    let query = parse_query(&req.query);
    for route in &spec.file.routes {
        if !route
            .when_query
            .iter()
            .all(|(k, v)| query.get(k).is_some_and(|q| q == v))
        {
            continue;
        }
        if let Some(params) = route.path.matches(&parts) {
            if route.method == req.method {
                return Ok((route, params));
            }
            path_matched = true;
        }
    }
    Err(if path_matched {
        RouteMiss::MethodNotAllowed
    } else {
        RouteMiss::NoPath
    })
}

fn check_header_rules(ctx: &Ctx<'_>) -> Result<(), Failure> {
    for rule in &ctx.spec.file.header_rules {
        let value = ctx.req.header(&rule.header);
        let failed = match value {
            None => rule.required,
            Some(v) => !rule.allowed.is_empty() && !rule.allowed.iter().any(|a| a == v),
        };
        if failed {
            let received = value.unwrap_or_default().to_owned();
            let vars = ctx.vars(vec![("value", Value::String(received.clone()))]);
            let detail = match &rule.message {
                Some(m) => m.render(&vars),
                None if value.is_none() => format!("Missing header {}", rule.header),
                None => format!("Unsupported value for header {}: {received}", rule.header),
            };
            let mut failure = Failure::new(rule.error, detail);
            failure.value = Some(received);
            return Err(failure);
        }
    }
    Ok(())
}

fn check_auth(shared: &Shared, ctx: &Ctx<'_>) -> Result<(), Failure> {
    let schemes = &ctx.spec.file.auth;
    if schemes.is_empty() {
        return Ok(());
    }
    let vars = ctx.vars(Vec::new());
    let mut presented = false;
    let mut stale = false;
    for scheme in schemes {
        if let (Some(header), Some(prefix)) = (&scheme.header, &scheme.oauth) {
            if let Some(got) = ctx.req.header(header) {
                presented = true;
                if got
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|t| shared.lock().oauth.access_live(t))
                {
                    return Ok(());
                }
            }
        } else if let Some(header) = &scheme.header {
            if let Some(got) = ctx.req.header(header) {
                presented = true;
                if scheme.value.as_ref().is_some_and(|v| v.render(&vars) == got) {
                    return Ok(());
                }
            }
        } else if let Some(param) = &scheme.query {
            if let Some(got) = ctx.query.get(param) {
                presented = true;
                if scheme.value.as_ref().is_some_and(|v| v.render(&vars) == *got) {
                    return Ok(());
                }
            }
        } else if let Some(basic) = &scheme.basic {
            if let Some(got) = ctx.req.header("authorization") {
                presented = true;
                let expected = format!("{}:{}", basic.username.render(&vars), basic.password.render(&vars));
                let encoded = base64::engine::general_purpose::STANDARD.encode(expected);
                let matches = got
                    .split_once(' ')
                    .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("basic") && token.trim() == encoded);
                if matches {
                    return Ok(());
                }
            }
        } else if let Some(digest) = &scheme.digest {
            let expected = crate::digest::Expected {
                username: digest.username.render(&vars),
                password: digest.password.render(&vars),
                realm: &digest.realm,
                algorithm: digest.algorithm,
            };
            let answer = ctx
                .req
                .header("authorization")
                .filter(|a| a.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("digest ")));
            if let Some(got) = answer {
                presented = true;
                let uri = match ctx.req.query.as_str() {
                    "" => ctx.req.path.clone(),
                    q => format!("{}?{q}", ctx.req.path),
                };
                let method = ctx.req.method.as_str();
                match crate::digest::verify(&expected, got, method, &uri, &shared.lock().digest_nonces) {
                    crate::digest::Verdict::Valid => return Ok(()),
                    crate::digest::Verdict::Stale => stale = true,
                    crate::digest::Verdict::Invalid => {}
                }
            }
        }
    }
    let mut failure = if presented {
        Failure::new(ErrorKind::Unauthorized, ErrorKind::Unauthorized.default_message())
    } else {
        Failure::new(
            ErrorKind::MissingCredentials,
            ErrorKind::MissingCredentials.default_message(),
        )
    };
    // Every digest scheme challenges, each with a fresh nonce.
    failure.challenges = schemes
        .iter()
        .filter_map(|s| s.digest.as_ref())
        .map(|digest| {
            let nonce = shared.lock().digest_nonces.issue();
            crate::digest::challenge(&digest.realm, digest.algorithm, &nonce, stale)
        })
        .collect();
    Err(failure)
}

fn collection<'s>(route: &RouteSpec, state: &'s State) -> Result<&'s Collection, Failure> {
    route
        .collection
        .as_ref()
        .and_then(|c| state.collections.get(c))
        .ok_or_else(|| Failure::new(ErrorKind::RouteNotFound, "Not Found"))
}

fn collection_mut<'s>(route: &RouteSpec, state: &'s mut State) -> Result<&'s mut Collection, Failure> {
    route
        .collection
        .as_ref()
        .and_then(|c| state.collections.get_mut(c))
        .ok_or_else(|| Failure::new(ErrorKind::RouteNotFound, "Not Found"))
}

fn path_id(ctx: &Ctx<'_>, route: &RouteSpec) -> String {
    route
        .id_param()
        .and_then(|p| ctx.params.get(p))
        .map(value_to_text)
        .unwrap_or_default()
}

fn not_found(id: &str) -> Failure {
    Failure::new(ErrorKind::NotFound, "Not Found").with_id(id)
}

fn op_get(ctx: &Ctx<'_>, route: &RouteSpec, state: &State) -> Result<Reply, Failure> {
    let coll = collection(route, state)?;
    let id = path_id(ctx, route);
    let key = coll.find(&id).ok_or_else(|| not_found(&id))?;
    let record = coll.records.get(&key).cloned().unwrap_or(Value::Null);
    Ok(record_reply(ctx, &route.response, 200, record))
}

fn op_render(ctx: &Ctx<'_>, route: &RouteSpec, state: &State) -> Result<Reply, Failure> {
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

fn op_list(ctx: &Ctx<'_>, route: &RouteSpec, state: &State) -> Result<Reply, Failure> {
    let coll = collection(route, state)?;
    let vars = ctx.vars(Vec::new());
    let filters: Vec<(&String, String)> = route.filter.iter().map(|(f, t)| (f, t.render(&vars))).collect();
    let items: Vec<Value> = coll
        .records
        .values()
        .filter(|r| {
            filters
                .iter()
                .all(|(field, want)| r.get(field.as_str()).is_some_and(|v| value_to_text(v) == *want))
        })
        .map(|r| project(r, &route.response, &ctx.query))
        .collect();
    let response = &route.response;
    let Some(paginate) = &route.paginate else {
        let body = match &response.wrap {
            Some(key) => json!({ key: items }),
            None => Value::Array(items),
        };
        let mut reply = Reply::json(response.status.unwrap_or(200), &body);
        add_headers(&mut reply, &response.headers, &vars);
        set_content_type(&mut reply, response);
        return Ok(reply);
    };
    if paginate.style == PageStyle::Range {
        return Ok(range_page(ctx, paginate, response, items, &vars));
    }
    let body_params = if paginate.params_in == ParamsIn::Body {
        parse_body(ctx.req)?.unwrap_or_default()
    } else {
        Map::new()
    };
    let header_size = paginate
        .size_header
        .as_ref()
        .and_then(|h| ctx.req.header_item(&h.name, &h.key));
    let param = |name: &str| -> Option<String> {
        if name == paginate.size_param && header_size.is_some() {
            return header_size.clone();
        }
        match paginate.params_in {
            ParamsIn::Query => ctx.query.get(name).cloned(),
            ParamsIn::Body => body_params.get(name).map(value_to_text),
        }
    };
    let keyset = |cursor: &str| -> Option<usize> {
        let field = paginate.cursor_field.as_deref()?;
        let at = items
            .iter()
            .position(|r| r.get(field).is_some_and(|v| value_to_text(v) == cursor))?;
        Some(at + 1)
    };
    let page = Page::compute(paginate, items.len(), &param, &keyset)?;
    let page_items: Vec<Value> = items.into_iter().skip(page.offset).take(page.size).collect();
    let next_cursor = match &paginate.cursor_field {
        Some(field) => page_items
            .last()
            .and_then(|r| r.get(field.as_str()))
            .filter(|_| page.has_more())
            .map(value_to_text),
        None => page.has_more().then(|| encode_cursor(page.offset + page.size)),
    };
    let next_url = page
        .has_more()
        .then(|| next_page_url(ctx, paginate, &page, next_cursor.clone()))
        .flatten();
    let count = page_items.len();
    let page_vars = json!({
        "items": page_items,
        "page": page.number,
        "size": page.size,
        "limit": page.size,
        "offset": page.offset,
        "total": page.total,
        "total_pages": page.total_pages,
        "count": count,
        "first": page.offset == 0,
        "last": !page.has_more(),
        "empty": count == 0,
        "has_more": page.has_more(),
        "next_cursor": next_cursor,
        "next_url": next_url,
        "next_page": page.has_more().then_some(page.number + 1),
        "prev_page": (page.offset > 0 && page.number > paginate.first_page).then(|| page.number - 1),
    });
    let mut all_vars = vars.clone();
    if let (Value::Object(all), Value::Object(pv)) = (&mut all_vars, &page_vars) {
        all.extend(pv.clone());
    }
    let body = match (&paginate.envelope, &response.wrap) {
        (Some(envelope), _) => envelope.render(&all_vars),
        (None, Some(key)) => json!({ key: page_vars["items"].clone() }),
        (None, None) => page_vars["items"].clone(),
    };
    let mut reply = Reply::json(response.status.unwrap_or(200), &body);
    if paginate.link_header {
        if let Some(link) = link_header(ctx, paginate, &page, next_cursor.as_deref()) {
            reply.headers.push(("link".into(), link));
        }
    }
    add_headers(&mut reply, &paginate.headers, &all_vars);
    add_headers(&mut reply, &response.headers, &all_vars);
    set_content_type(&mut reply, response);
    Ok(reply)
}

/// A `range` style page: the positions the `Range` header asks for (the first
/// `default_size` without one, at most `max_size`), `206` with `Content-Range`; a range
/// starting past the end is a `416` (`Content-Range: <unit> */<total>`); a malformed or
/// foreign-unit `Range` is ignored, as RFC 9110 says, and the first page sent.
fn range_page(ctx: &Ctx<'_>, p: &PaginateSpec, response: &ResponseSpec, items: Vec<Value>, vars: &Value) -> Reply {
    let total = items.len();
    let asked = ctx.req.header("range").and_then(|v| parse_range(&p.range_unit, v));
    let max = usize::try_from(p.max_size.max(1)).unwrap_or(usize::MAX);
    let default = usize::try_from(p.default_size.max(1)).unwrap_or(usize::MAX).min(max);
    let (start, end) = match asked {
        Some((start, Some(end))) => (start, end.min(start.saturating_add(max - 1))),
        Some((start, None)) => (start, start.saturating_add(default - 1)),
        None => (0, default - 1),
    };
    let length = if p.hide_total {
        "*".to_string()
    } else {
        total.to_string()
    };
    if start >= total && !(start == 0 && total == 0) {
        let mut reply = Reply::json(416, &json!({ "message": "Range Not Satisfiable" }));
        reply
            .headers
            .push(("content-range".into(), format!("{} */{total}", p.range_unit)));
        return reply;
    }
    let last = end.min(total.saturating_sub(1));
    let page_items: Vec<Value> = items.into_iter().skip(start).take(last + 1 - start).collect();
    let count = page_items.len();
    let mut all_vars = vars.clone();
    if let Value::Object(all) = &mut all_vars {
        all.insert("items".into(), Value::Array(page_items.clone()));
        all.insert("total".into(), json!(total));
        all.insert("count".into(), json!(count));
        all.insert("offset".into(), json!(start));
    }
    let body = match (&p.envelope, &response.wrap) {
        (Some(envelope), _) => envelope.render(&all_vars),
        (None, Some(key)) => json!({ key: page_items }),
        (None, None) => Value::Array(page_items),
    };
    let status = if asked.is_some() { 206 } else { 200 };
    let mut reply = Reply::json(response.status.unwrap_or(status), &body);
    let range = if count == 0 {
        format!("{} */{total}", p.range_unit)
    } else {
        format!("{} {start}-{last}/{length}", p.range_unit)
    };
    reply.headers.push(("content-range".into(), range));
    reply.headers.push(("accept-ranges".into(), p.range_unit.clone()));
    add_headers(&mut reply, &p.headers, &all_vars);
    add_headers(&mut reply, &response.headers, &all_vars);
    set_content_type(&mut reply, response);
    reply
}

/// `<unit>=<first>-<last>` or `<unit>=<first>-` (one range; the unit matched
/// case-insensitively).
fn parse_range(unit: &str, value: &str) -> Option<(usize, Option<usize>)> {
    let (u, spec) = value.trim().split_once('=')?;
    if !u.trim().eq_ignore_ascii_case(unit) || spec.contains(',') {
        return None;
    }
    let (first, last) = spec.trim().split_once('-')?;
    let first: usize = first.trim().parse().ok()?;
    let last = match last.trim() {
        "" => None,
        l => Some(l.parse::<usize>().ok()?),
    };
    if last.is_some_and(|l| l < first) {
        return None;
    }
    Some((first, last))
}

/// Where one page sits in the list.
struct Page {
    /// The page number in the provider's numbering (page style), else the 0-based index.
    number: u64,
    size: usize,
    offset: usize,
    total: usize,
    total_pages: usize,
    style: PageStyle,
}

impl Page {
    fn compute(
        p: &PaginateSpec,
        total: usize,
        param: &dyn Fn(&str) -> Option<String>,
        keyset: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<Self, Failure> {
        let number_of = |name: &str| param(name).and_then(|v| v.trim().parse::<u64>().ok());
        let size = match number_of(&p.size_param) {
            Some(0) | None => p.default_size,
            Some(n) => n.min(p.max_size),
        };
        let size = usize::try_from(size.max(1)).unwrap_or(usize::MAX);
        let (number, offset) = match p.style {
            PageStyle::Page => {
                let number = number_of(&p.page_param).unwrap_or(p.first_page).max(p.first_page);
                let index = usize::try_from(number - p.first_page).unwrap_or(usize::MAX);
                (number, index.saturating_mul(size))
            }
            PageStyle::Offset => {
                let offset = usize::try_from(number_of(&p.offset_param).unwrap_or(0)).unwrap_or(usize::MAX);
                ((offset / size) as u64, offset)
            }
            PageStyle::Cursor => {
                let offset = match param(&p.cursor_param).filter(|c| !c.is_empty()) {
                    None => 0,
                    Some(cursor) if p.cursor_field.is_some() => keyset(&cursor)
                        .ok_or_else(|| Failure::new(ErrorKind::BadRequest, format!("Invalid cursor: {cursor}")))?,
                    Some(cursor) => decode_cursor(&cursor)
                        .ok_or_else(|| Failure::new(ErrorKind::BadRequest, format!("Invalid cursor: {cursor}")))?,
                };
                ((offset / size) as u64, offset)
            }
            // Served by `range_page`, never computed here.
            PageStyle::Range => (0, 0),
        };
        Ok(Page {
            number,
            size,
            offset,
            total,
            total_pages: total.div_ceil(size),
            style: p.style,
        })
    }

    fn has_more(&self) -> bool {
        self.offset.saturating_add(self.size) < self.total
    }
}

fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("offset:")?.parse().ok()
}

/// The absolute URL of the next page (the request's URL with the paging parameter moved
/// on), for envelopes that link to it in the body (`{{next_url}}`).
fn next_page_url(ctx: &Ctx<'_>, p: &PaginateSpec, page: &Page, next_cursor: Option<String>) -> Option<String> {
    let host = ctx.req.header("host")?;
    let (param, value) = match page.style {
        PageStyle::Page => (&p.page_param, (page.number + 1).to_string()),
        PageStyle::Offset => (&p.offset_param, (page.offset + page.size).to_string()),
        PageStyle::Cursor => (&p.cursor_param, next_cursor?),
        PageStyle::Range => return None,
    };
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(ctx.req.query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != param)
        .collect();
    pairs.push((param.clone(), value));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    Some(format!("http://{host}{}?{query}", ctx.req.path))
}

/// RFC 8288 `Link` header with absolute URLs built from the request's `Host`.
fn link_header(ctx: &Ctx<'_>, p: &PaginateSpec, page: &Page, next_cursor: Option<&str>) -> Option<String> {
    let host = ctx.req.header("host")?;
    let url = |param: &str, value: String| -> String {
        let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(ctx.req.query.as_bytes())
            .into_owned()
            .collect();
        match pairs.iter_mut().find(|(k, _)| k == param) {
            Some(pair) => pair.1 = value,
            None => pairs.push((param.to_owned(), value)),
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("http://{host}{}?{query}", ctx.req.path)
    };
    let mut links = Vec::new();
    match page.style {
        PageStyle::Page => {
            let first = p.first_page;
            let last = first + (page.total_pages.max(1) as u64) - 1;
            if page.offset > 0 && page.number > first {
                links.push(format!(
                    "<{}>; rel=\"prev\"",
                    url(&p.page_param, (page.number - 1).to_string())
                ));
            }
            if page.has_more() {
                links.push(format!(
                    "<{}>; rel=\"next\"",
                    url(&p.page_param, (page.number + 1).to_string())
                ));
                links.push(format!("<{}>; rel=\"last\"", url(&p.page_param, last.to_string())));
            }
            if page.offset > 0 {
                links.push(format!("<{}>; rel=\"first\"", url(&p.page_param, first.to_string())));
            }
        }
        PageStyle::Offset => {
            if page.offset > 0 {
                let prev = page.offset.saturating_sub(page.size);
                links.push(format!("<{}>; rel=\"prev\"", url(&p.offset_param, prev.to_string())));
            }
            if page.has_more() {
                let next = page.offset + page.size;
                links.push(format!("<{}>; rel=\"next\"", url(&p.offset_param, next.to_string())));
            }
        }
        PageStyle::Cursor => {
            // The page's own cursor: an opaque offset, or with `cursor_field` the last
            // record's key (Okta's `after`).
            if let Some(next) = next_cursor.filter(|_| page.has_more()) {
                links.push(format!("<{}>; rel=\"next\"", url(&p.cursor_param, next.to_owned())));
            }
        }
        PageStyle::Range => {}
    }
    (!links.is_empty()).then(|| links.join(", "))
}

fn op_delete(ctx: &Ctx<'_>, route: &RouteSpec, state: &mut State) -> Result<Reply, Failure> {
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

fn op_create(ctx: &Ctx<'_>, route: &RouteSpec, state: &mut State) -> Result<Reply, Failure> {
    let write = &route.write;
    let body = write_body(ctx.req, write)?;
    let coll = collection_mut(route, state)?;
    validate(write, &coll.spec.version_field, &body)?;
    let id_field = coll.spec.id_field.clone();
    let protected = protected_fields(coll, write);

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
    stamp(coll, &mut record, ctx.now, true);
    apply_set(&write.set, &mut record, ctx, &body);
    let record = Value::Object(record);
    coll.insert(record.clone());
    Ok(record_reply(ctx, &route.response, 201, record))
}

fn op_update(ctx: &Ctx<'_>, route: &RouteSpec, state: &mut State) -> Result<Reply, Failure> {
    let write = &route.write;
    let body = write_body(ctx.req, write)?;
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

    let protected = protected_fields(coll, write);
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
    stamp(coll, &mut record, ctx.now, false);
    apply_set(&write.set, &mut record, ctx, &body);
    let record = Value::Object(record);
    coll.records.insert(key, record.clone());
    Ok(record_reply(ctx, &route.response, 200, record))
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

/// The JSON object a write carries, unwrapped when the route says so.
fn write_body(req: &Incoming, write: &WriteSpec) -> Result<Map<String, Value>, Failure> {
    let body = parse_body(req)?.unwrap_or_default();
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

/// `Ok(None)` for an empty body; a JSON object otherwise; anything else is a bad request.
fn parse_body(req: &Incoming) -> Result<Option<Map<String, Value>>, Failure> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(Failure::new(ErrorKind::BadRequest, "Body should be a JSON object")),
        Err(e) => Err(Failure::new(ErrorKind::BadRequest, format!("JSON parse error - {e}"))),
    }
}

/// Unknown and read-only fields first (their own error kinds), then required and field rules.
fn validate(write: &WriteSpec, version_field: &Option<String>, body: &Map<String, Value>) -> Result<(), Failure> {
    if write.reject_unknown_fields {
        let known = |f: &String| {
            write.fields.keys().any(|k| top_field(k) == f)
                || write.required.iter().any(|k| top_field(k) == f)
                || write.read_only.contains(f)
                || (write.optimistic_version && version_field.as_ref() == Some(f))
        };
        let unknown: Vec<FieldError> = body
            .iter()
            .filter(|(f, _)| !known(f))
            .map(|(f, v)| FieldError::new(f, "unknown_field", format!("Unrecognized field \"{f}\""), Some(v)))
            .collect();
        if !unknown.is_empty() {
            return Err(Failure::fields(ErrorKind::UnknownField, unknown));
        }
    }
    if write.read_only_mode == ReadOnlyMode::Reject {
        let read_only: Vec<FieldError> = body
            .iter()
            .filter(|(f, _)| write.read_only.contains(f))
            .map(|(f, v)| FieldError::new(f, "read_only", format!("{f} is read-only"), Some(v)))
            .collect();
        if !read_only.is_empty() {
            return Err(Failure::fields(ErrorKind::ReadOnlyField, read_only));
        }
    }
    let mut errors = Vec::new();
    for field in &write.required {
        if get_path(body, field).is_none_or(Value::is_null) {
            errors.push(FieldError::new(field, "missing", format!("{field} is required"), None));
        }
    }
    for (field, rule) in &write.fields {
        if let Some(value) = get_path(body, field) {
            if let Some(error) = check_field(field, rule, value) {
                errors.push(error);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::fields(ErrorKind::Validation, errors))
    }
}

fn check_field(field: &str, rule: &FieldRule, value: &Value) -> Option<FieldError> {
    let fail = |code, message: String| Some(FieldError::new(field, code, message, Some(value)));
    if value.is_null() {
        let allowed = rule.nullable || (rule.kind.is_none() && rule.min_length.is_none() && rule.pattern.is_none());
        return if allowed {
            None
        } else {
            fail("type", format!("{field} must not be null"))
        };
    }
    if let Some(kind) = rule.kind {
        let ok = match kind {
            FieldType::String => value.is_string(),
            FieldType::Integer => value.is_i64() || value.is_u64(),
            FieldType::Number => value.is_number(),
            FieldType::Boolean => value.is_boolean(),
            FieldType::Array => value.is_array(),
            FieldType::Object => value.is_object(),
        };
        if !ok {
            return fail("type", format!("{field} must be of type {kind:?}").to_lowercase());
        }
    }
    let length = match value {
        Value::String(s) => Some(s.chars().count()),
        Value::Array(a) => Some(a.len()),
        _ => None,
    };
    if let (Some(len), Some(min)) = (length, rule.min_length) {
        if len < min {
            return fail(
                "too_short",
                format!(
                    "{field} length must be between {min} and {}",
                    rule.max_length.map_or("∞".into(), |m| m.to_string())
                ),
            );
        }
    }
    if let (Some(len), Some(max)) = (length, rule.max_length) {
        if len > max {
            return fail("too_long", format!("{field} length must be at most {max}"));
        }
    }
    if let (Value::String(s), Some(pattern)) = (value, &rule.pattern) {
        if !pattern.regex.is_match(s) {
            return fail("pattern", format!("{field} must match \"{}\"", pattern.source));
        }
    }
    if let Some(n) = value.as_f64() {
        if rule.minimum.is_some_and(|min| n < min) {
            return fail(
                "below_minimum",
                format!("{field} must be at least {}", rule.minimum.unwrap_or_default()),
            );
        }
        if rule.maximum.is_some_and(|max| n > max) {
            return fail(
                "above_maximum",
                format!("{field} must be at most {}", rule.maximum.unwrap_or_default()),
            );
        }
    }
    if !rule.one_of.is_empty() && !rule.one_of.contains(value) {
        return fail(
            "not_in_enum",
            format!("{field} must be one of {}", Value::Array(rule.one_of.clone())),
        );
    }
    None
}

/// Keeps `fields` / drops `omit` at the top level of a record.
fn project(record: &Value, response: &ResponseSpec, query: &IndexMap<String, String>) -> Value {
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

fn record_reply(ctx: &Ctx<'_>, response: &ResponseSpec, default_status: u16, record: Value) -> Reply {
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

fn add_headers(reply: &mut Reply, headers: &IndexMap<String, crate::template::StrTemplate>, vars: &Value) {
    for (name, value) in headers {
        reply.headers.push((name.clone(), value.render(vars)));
    }
}

fn set_content_type(reply: &mut Reply, response: &ResponseSpec) {
    if let (Some(ct), true) = (&response.content_type, reply.content_type.is_some()) {
        reply.content_type = Some(ct.clone());
    }
}

/// Renders a failure with the provider's template for its kind (see [`ErrorKind::fallback`]).
fn error_reply(ctx: &Ctx<'_>, failure: Failure) -> Reply {
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

fn parse_query(query: &str) -> IndexMap<String, String> {
    let mut map = IndexMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    map
}

/// Decodes `%XX` escapes in a path segment; invalid escapes are kept as they are.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, Method};
    use bytes::Bytes;

    use super::*;

    const SPEC: &str = r#"
base_path: /api
credentials: { api_token: secret }
auth:
  - { header: Authorization, value: "Bearer {{credentials.api_token}}" }
  - { query: key, value: "{{credentials.api_token}}" }
  - { basic: { username: "{{credentials.api_token}}", password: x } }
errors:
  default: { body: { error: "{{message}}", status: "{{status}}" } }
  validation: { status: 400, body: { error: invalid, problems: "{{errors}}" } }
  field_error: { body: { name: "{{field}}", why: "{{code}}" }, codes: { too_long: length } }
collections:
  things:
    generate_id: sequence
    version_field: version
    timestamps: { created: created, updated: updated, format: unix }
    records:
      - { id: 1, version: 1, name: one, note: keep }
      - { id: 2, version: 1, name: two }
      - { id: 3, version: 1, name: three }
routes:
  - { method: GET, path: "/things/{id}", op: get, collection: things }
  - method: GET
    path: /things
    op: list
    collection: things
    paginate: { style: cursor, size_param: limit, default_size: 2, envelope: { data: "{{items}}", next: "{{next_cursor}}" } }
  - method: POST
    path: /things
    op: create
    collection: things
    write: { required: [name], fields: { name: { type: string, max_length: 5 } } }
  - method: PUT
    path: /things/{id}
    op: replace
    collection: things
    write: { optimistic_version: true, reject_unknown_fields: true, required: [name], fields: { name: { max_length: 5 } }, read_only: [created] }
  - method: PATCH
    path: /things/{id}
    op: merge
    collection: things
    response: { wrap: thing }
  - { method: DELETE, path: "/things/{id}", op: delete, collection: things }
  - method: GET
    path: /query
    op: render
    when_query: { q: "SELECT Name FROM Thing" }
    response: { body: { answer: things } }
  - method: GET
    path: /query
    op: render
    response: { body: { answer: other } }
"#;

    fn shared() -> Shared {
        Shared::new(EmulatorSpec::from_yaml("demo", SPEC).expect("spec"))
    }

    fn req(method: Method, path_and_query: &str, body: &str, auth: Option<&str>) -> Incoming {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let mut headers = HeaderMap::new();
        if let Some(a) = auth {
            headers.insert("authorization", a.parse().expect("header"));
        }
        Incoming {
            method,
            path: path.into(),
            query: query.into(),
            headers,
            body: Bytes::from(body.to_owned()),
        }
    }

    fn call(s: &Shared, method: Method, path: &str, body: &str) -> (u16, Value) {
        let reply = process(s, &req(method, path, body, Some("Bearer secret")));
        let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        (reply.status, body)
    }

    #[test]
    fn auth_is_checked_in_every_accepted_scheme() {
        let s = shared();
        assert_eq!(process(&s, &req(Method::GET, "/api/things/1", "", None)).status, 401);
        assert_eq!(
            process(&s, &req(Method::GET, "/api/things/1", "", Some("Bearer nope"))).status,
            401
        );
        assert_eq!(
            process(&s, &req(Method::GET, "/api/things/1?key=secret", "", None)).status,
            200
        );
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("secret:x"));
        assert_eq!(
            process(&s, &req(Method::GET, "/api/things/1", "", Some(&basic))).status,
            200
        );
    }

    #[test]
    fn when_query_picks_the_route_by_query_parameter() {
        let s = shared();
        let (status, body) = call(&s, Method::GET, "/api/query?q=SELECT+Name+FROM+Thing", "");
        assert_eq!((status, body), (200, json!({"answer": "things"})));
        let (_, body) = call(&s, Method::GET, "/api/query?q=SELECT%20Name%20FROM%20Thing&x=1", "");
        assert_eq!(body, json!({"answer": "things"}));
        let (_, body) = call(&s, Method::GET, "/api/query?q=SELECT+Id+FROM+Thing", "");
        assert_eq!(body, json!({"answer": "other"}));
        let (_, body) = call(&s, Method::GET, "/api/query", "");
        assert_eq!(body, json!({"answer": "other"}));
    }

    #[test]
    fn errors_use_the_default_template_with_the_kind_status() {
        let (status, body) = call(&shared(), Method::GET, "/api/things/9", "");
        assert_eq!(status, 404);
        assert_eq!(body, json!({"error": "Not Found", "status": 404}));
        let (status, _) = call(&shared(), Method::PATCH, "/api/things", "");
        assert_eq!(status, 405);
        let (status, _) = call(&shared(), Method::GET, "/elsewhere", "");
        assert_eq!(status, 404);
    }

    #[test]
    fn a_cursor_list_walks_every_record_once() {
        let s = shared();
        let (_, first) = call(&s, Method::GET, "/api/things", "");
        assert_eq!(first["data"].as_array().map(Vec::len), Some(2));
        let cursor = first["next"].as_str().expect("cursor").to_owned();
        let (_, second) = call(&s, Method::GET, &format!("/api/things?cursor={cursor}"), "");
        assert_eq!(second["data"], json!([{"id": 3, "version": 1, "name": "three"}]));
        assert_eq!(second["next"], Value::Null);
        let (status, _) = call(&s, Method::GET, "/api/things?cursor=garbage", "");
        assert_eq!(status, 400);
    }

    #[test]
    fn create_generates_the_next_id_and_stamps_times() {
        let s = shared();
        let (status, body) = call(&s, Method::POST, "/api/things", r#"{"name":"four","id":77}"#);
        assert_eq!(status, 201);
        assert_eq!(body["id"], 77, "a client id is used when given");
        let (_, body) = call(&s, Method::POST, "/api/things", r#"{"name":"five"}"#);
        assert_eq!(body["id"], 78);
        assert_eq!(body["version"], 0);
        assert!(body["created"].is_i64() && body["updated"].is_i64());
    }

    #[test]
    fn validation_errors_are_rendered_per_field_with_renamed_codes() {
        let (status, body) = call(&shared(), Method::POST, "/api/things", r#"{"name":"toolong"}"#);
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"error": "invalid", "problems": [{"name": "name", "why": "length"}]})
        );
        let (status, _) = call(&shared(), Method::POST, "/api/things", "{not json");
        assert_eq!(status, 400);
    }

    #[test]
    fn replace_checks_the_version_drops_missing_fields_and_bumps_the_version() {
        let s = shared();
        let (status, _) = call(&s, Method::PUT, "/api/things/1", r#"{"version":0,"name":"x"}"#);
        assert_eq!(status, 409);
        let (status, _) = call(
            &s,
            Method::PUT,
            "/api/things/1",
            r#"{"version":1,"name":"x","extra":1}"#,
        );
        assert_eq!(status, 400, "unknown fields fall back to the validation template");
        let (status, body) = call(
            &s,
            Method::PUT,
            "/api/things/1",
            r#"{"version":1,"name":"x","created":5}"#,
        );
        assert_eq!(status, 200);
        assert_eq!(body["version"], 2);
        assert_eq!(body["note"], Value::Null, "PUT drops fields left out");
        assert_ne!(body["created"], 5, "read-only fields keep the stored value");
    }

    #[test]
    fn merge_keeps_other_fields_and_wraps_the_answer() {
        let s = shared();
        let (status, body) = call(&s, Method::PATCH, "/api/things/1", r#"{"name":"uno"}"#);
        assert_eq!(status, 200);
        assert_eq!(body["thing"]["name"], "uno");
        assert_eq!(body["thing"]["note"], "keep");
    }

    #[test]
    fn delete_removes_the_record() {
        let s = shared();
        assert_eq!(call(&s, Method::DELETE, "/api/things/2", "").0, 204);
        assert_eq!(call(&s, Method::GET, "/api/things/2", "").0, 404);
    }

    #[test]
    fn percent_escapes_in_paths_are_decoded() {
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
    }

    const KEYSET_SPEC: &str = r#"
credentials: { api_token: secret }
auth: [{ header: Authorization, value: "Bearer {{credentials.api_token}}" }]
errors:
  not_found: { content_type: text/plain; charset=utf-8, body: "model not found" }
collections:
  orgs:
    records: [{ id: 10, name: a }, { id: 20, name: b }, { id: 30, name: c }]
routes:
  - { method: GET, path: "/orgs/{id}", op: get, collection: orgs }
  - method: GET
    path: /orgs
    op: list
    collection: orgs
    paginate: { style: cursor, cursor_param: after, cursor_field: id, size_param: pageSize, default_size: 2 }
  - method: GET
    path: /linked
    op: list
    collection: orgs
    paginate: { style: cursor, cursor_param: "page[after]", cursor_field: id, size_param: "page[size]", default_size: 2, envelope: { items: "{{items}}", next: "{{next_url}}" } }
"#;

    #[test]
    fn a_keyset_cursor_continues_after_the_named_record() {
        let s = Shared::new(EmulatorSpec::from_yaml("keyset", KEYSET_SPEC).expect("spec"));
        let (_, first) = call(&s, Method::GET, "/orgs", "");
        assert_eq!(first, json!([{"id": 10, "name": "a"}, {"id": 20, "name": "b"}]));
        let (_, second) = call(&s, Method::GET, "/orgs?after=20", "");
        assert_eq!(second, json!([{"id": 30, "name": "c"}]));
        assert_eq!(call(&s, Method::GET, "/orgs?after=99", "").0, 400);
    }

    #[test]
    fn next_url_links_the_next_page_in_the_body_and_is_null_on_the_last() {
        let s = Shared::new(EmulatorSpec::from_yaml("keyset", KEYSET_SPEC).expect("spec"));
        let mut incoming = req(Method::GET, "/linked", "", Some("Bearer secret"));
        incoming.headers.insert("host", "emu.test".parse().expect("host"));
        let first: Value = serde_json::from_slice(&process(&s, &incoming).body).expect("json");
        assert_eq!(first["next"], "http://emu.test/linked?page%5Bafter%5D=20");
        let (_, last) = call(&s, Method::GET, "/linked?page%5Bafter%5D=20", "");
        assert_eq!(last["next"], Value::Null);
    }

    #[test]
    fn a_text_error_template_sends_its_body_unquoted() {
        let s = Shared::new(EmulatorSpec::from_yaml("keyset", KEYSET_SPEC).expect("spec"));
        let reply = process(&s, &req(Method::GET, "/orgs/99", "", Some("Bearer secret")));
        assert_eq!(reply.status, 404);
        assert_eq!(reply.body, b"model not found".to_vec());
        assert_eq!(reply.content_type.as_deref(), Some("text/plain; charset=utf-8"));
    }

    /// Contentful-like: ids, versions and dates nested in `sys`, the version in a header,
    /// the page size in a `Prefer` header, links built from the emulator's own URL.
    const NESTED_SPEC: &str = r#"
base_path: /v2
collections:
  orgs:
    id_field: sys.id
    generate_id: none
    version_field: sys.version
    timestamps: { updated: sys.updatedAt, format: unix }
    records:
      - { name: Acme, sys: { id: a1, version: 4, updatedAt: 1 } }
      - { name: Globex, sys: { id: g2, version: 1, updatedAt: 1 } }
      - { name: Initech, sys: { id: i3, version: 1, updatedAt: 1 } }
routes:
  - { method: GET, path: "/orgs/{id}", op: get, collection: orgs }
  - method: PUT
    path: /orgs/{id}
    op: replace
    collection: orgs
    write: { required: [name], read_only: [sys], optimistic_version: true, version_header: X-Version }
  - method: GET
    path: /orgs
    op: list
    collection: orgs
    paginate:
      style: cursor
      cursor_param: $skiptoken
      size_param: top
      size_header: { name: Prefer, key: odata.maxpagesize }
      default_size: 50
      envelope: { context: "{{base_url}}/$metadata", value: "{{items}}", next: "{{next_url}}" }
"#;

    fn with_headers(mut incoming: Incoming, headers: &[(&'static str, &str)]) -> Incoming {
        for (name, value) in headers {
            incoming.headers.append(*name, value.parse().expect("header"));
        }
        incoming
    }

    fn answer(s: &Shared, incoming: &Incoming) -> (u16, Value) {
        let reply = process(s, incoming);
        (reply.status, serde_json::from_slice(&reply.body).unwrap_or(Value::Null))
    }

    #[test]
    fn dotted_id_version_and_timestamp_fields_address_and_update_nested_values() {
        let s = Shared::new(EmulatorSpec::from_yaml("nested", NESTED_SPEC).expect("spec"));
        assert_eq!(call(&s, Method::GET, "/v2/orgs/g2", "").1["name"], "Globex");

        let put = with_headers(
            req(
                Method::PUT,
                "/v2/orgs/a1",
                r#"{"name": "Acme 2", "sys": {"id": "hijack", "version": 99}}"#,
                None,
            ),
            &[("x-version", "4")],
        );
        let (status, body) = answer(&s, &put);

        assert_eq!(status, 200, "{body}");
        assert_eq!(body["name"], "Acme 2");
        assert_eq!(body["sys"]["id"], "a1", "the client cannot touch `sys`");
        assert_eq!(body["sys"]["version"], 5);
        assert!(body["sys"]["updatedAt"].as_i64().expect("stamped") > 1);
        assert_eq!(call(&s, Method::GET, "/v2/orgs/a1", "").1["sys"]["version"], 5);
    }

    #[test]
    fn a_version_header_must_name_the_current_version() {
        let s = Shared::new(EmulatorSpec::from_yaml("nested", NESTED_SPEC).expect("spec"));
        let body = r#"{"name": "Acme 2"}"#;
        let stale = with_headers(req(Method::PUT, "/v2/orgs/a1", body, None), &[("x-version", "3")]);
        assert_eq!(answer(&s, &stale).0, 409);
        assert_eq!(
            answer(&s, &req(Method::PUT, "/v2/orgs/a1", body, None)).0,
            409,
            "missing header"
        );
        let current = with_headers(req(Method::PUT, "/v2/orgs/a1", body, None), &[("x-version", "4")]);
        assert_eq!(answer(&s, &current).0, 200);
        assert_eq!(answer(&s, &current).0, 409, "the version moved on");
    }

    #[test]
    fn the_page_size_can_come_from_a_prefer_header_and_links_use_the_emulators_url() {
        let s = Shared::new(EmulatorSpec::from_yaml("nested", NESTED_SPEC).expect("spec"));
        let first = with_headers(
            req(Method::GET, "/v2/orgs", "", None),
            &[
                ("host", "emu.test:8080"),
                ("prefer", "return=representation"),
                ("prefer", "odata.include-annotations=\"*\", odata.maxpagesize=2"),
            ],
        );
        let (_, page) = answer(&s, &first);
        assert_eq!(page["context"], "http://emu.test:8080/v2/$metadata");
        assert_eq!(page["value"].as_array().expect("items").len(), 2);
        let next = page["next"].as_str().expect("a next link");
        let (path, query) = next
            .strip_prefix("http://emu.test:8080")
            .expect("back to this emulator")
            .split_once('?')
            .expect("query");
        assert_eq!(path, "/v2/orgs");
        assert!(query.starts_with("%24skiptoken="), "{query}");

        let second = with_headers(
            req(Method::GET, &format!("{path}?{query}"), "", None),
            &[("prefer", "odata.maxpagesize=2")],
        );
        let (_, page) = answer(&s, &second);
        assert_eq!(
            page["value"],
            json!([{"name": "Initech", "sys": {"id": "i3", "version": 1, "updatedAt": 1}}])
        );
        assert_eq!(page["next"], Value::Null);
        // Without the preference, the size parameter or the default applies.
        assert_eq!(
            call(&s, Method::GET, "/v2/orgs?top=1", "").1["value"]
                .as_array()
                .expect("items")
                .len(),
            1
        );
        assert_eq!(
            call(&s, Method::GET, "/v2/orgs", "").1["value"]
                .as_array()
                .expect("items")
                .len(),
            3
        );
    }

    const DIGEST_SPEC: &str = r#"
credentials: { public: pubkey, private: privkey }
auth:
  - digest: { username: "{{credentials.public}}", password: "{{credentials.private}}", realm: Test Realm, algorithm: SHA-256 }
collections:
  things:
    records: [{ id: "1" }]
routes:
  - { method: GET, path: "/things/{id}", op: get, collection: things }
"#;

    #[test]
    fn a_digest_scheme_challenges_and_accepts_only_a_fresh_valid_answer() {
        let s = Shared::new(EmulatorSpec::from_yaml("digest", DIGEST_SPEC).expect("spec"));
        let bare = process(&s, &req(Method::GET, "/things/1", "", None));
        assert_eq!(bare.status, 401);
        let challenge = bare
            .headers
            .iter()
            .find(|(n, _)| n == "www-authenticate")
            .map(|(_, v)| v.clone())
            .expect("a challenge");
        assert!(
            challenge.contains("algorithm=SHA-256") && challenge.contains("stale=false"),
            "{challenge}"
        );

        let respond = |password: &str, uri: &str| {
            let mut prompt = digest_auth::parse(&challenge).expect("parses");
            prompt
                .respond(&digest_auth::AuthContext::new("pubkey", password, uri))
                .expect("answer")
                .to_string()
        };
        let good = respond("privkey", "/things/1");
        assert_eq!(process(&s, &req(Method::GET, "/things/1", "", Some(&good))).status, 200);
        let wrong = respond("nope", "/things/1");
        let refused = process(&s, &req(Method::GET, "/things/1", "", Some(&wrong)));
        assert_eq!(refused.status, 401);
        assert!(refused
            .headers
            .iter()
            .any(|(n, v)| n == "www-authenticate" && v.contains("stale=false")));

        // A right answer to a nonce the emulator forgot (or never issued) is stale.
        let nonce = digest_auth::parse(&challenge).expect("parses").nonce;
        let mut prompt = digest_auth::parse(&challenge.replace(&nonce, "0000")).expect("parses");
        let unknown_nonce = prompt
            .respond(&digest_auth::AuthContext::new("pubkey", "privkey", "/things/1"))
            .expect("answer")
            .to_string();
        let stale = process(&s, &req(Method::GET, "/things/1", "", Some(&unknown_nonce)));
        assert_eq!(stale.status, 401);
        assert!(stale
            .headers
            .iter()
            .any(|(n, v)| n == "www-authenticate" && v.contains("stale=true")));
    }
}
