//! The `list` op: filters, projection, and paging in each style (page number, offset, opaque
//! or keyset cursor, the `Range` header), with the page's envelope, `next_url`, RFC 8288
//! `Link` headers and extra headers. The styles share the page arithmetic ([`Page`]) and
//! the URL building.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::ctx::{collection, parse_body, Ctx};
use super::failure::Failure;
use super::respond::{add_headers, project, set_content_type};
use super::search;
use crate::dotted::get_path;
use crate::exchange::Reply;
use crate::spec::{ErrorKind, FilterExpressionSpec, PageStyle, PaginateSpec, ParamsIn, ResponseSpec, RouteSpec};
use crate::state::State;
use crate::template::value_to_text;

/// One clause of a filter expression ([`RouteSpec::filter_expression`]).
#[derive(Debug)]
struct Clause {
    field: String,
    op: String,
    value: String,
}

impl Clause {
    fn matches(&self, record: &Value) -> bool {
        let Some(v) = field_of(record, &self.field) else {
            return false;
        };
        let have = value_to_text(v);
        if self.op == "eq" {
            return have.eq_ignore_ascii_case(&self.value);
        }
        let ordering = match (
            chrono::DateTime::parse_from_rfc3339(&have),
            chrono::DateTime::parse_from_rfc3339(&self.value),
        ) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => have.as_str().cmp(self.value.as_str()),
        };
        match self.op.as_str() {
            "gt" => ordering.is_gt(),
            "ge" => ordering.is_ge(),
            "lt" => ordering.is_lt(),
            _ => ordering.is_le(),
        }
    }
}

/// `attr op value [and attr op value]...`, as [`RouteSpec::filter_expression`] says.
fn parse_filter_expression(text: &str, spec: &FilterExpressionSpec) -> Result<Vec<Clause>, Failure> {
    let bad = |why: String| Failure::new(ErrorKind::BadRequest, format!("Invalid filter expression: {why}"));
    let mut clauses = Vec::new();
    let mut rest = text.trim();
    loop {
        let (attr, after) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad(text.to_string()))?;
        let (op, after) = after
            .trim_start()
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad(text.to_string()))?;
        let op = op.to_ascii_lowercase();
        if !matches!(op.as_str(), "eq" | "gt" | "ge" | "lt" | "le") {
            return Err(bad(format!("unsupported operator `{op}`")));
        }
        let after = after.trim_start();
        let (value, after) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => {
                // Inside quotes, `\x` is `x` (Okta's `\"`) and a doubled quote is one
                // (OData's `''`).
                let mut value = String::new();
                let mut chars = after.char_indices().skip(1).peekable();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, next)) = chars.next() {
                                value.push(next);
                            }
                        }
                        c if c == q && chars.peek().is_some_and(|(_, n)| *n == q) => {
                            value.push(q);
                            chars.next();
                        }
                        c if c == q => {
                            end = Some(i);
                            break;
                        }
                        c => value.push(c),
                    }
                }
                let end = end.ok_or_else(|| bad(format!("unclosed quote in `{after}`")))?;
                (value, &after[end + 1..])
            }
            Some(_) => {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (after[..end].to_string(), &after[end..])
            }
            None => return Err(bad(format!("no value after `{attr} {op}`"))),
        };
        let field = spec
            .attributes
            .get(attr)
            .ok_or_else(|| bad(format!("unsupported attribute `{attr}`")))?;
        clauses.push(Clause {
            field: field.clone(),
            op,
            value,
        });
        let after = after.trim_start();
        if after.is_empty() {
            return Ok(clauses);
        }
        rest = match after.split_once(char::is_whitespace) {
            Some((and, more)) if and.eq_ignore_ascii_case("and") => more.trim_start(),
            _ => return Err(bad(format!("expected `and` before `{after}`"))),
        };
    }
}

/// A record's field: a top-level key as named, else a dotted path into it.
fn field_of<'a>(record: &'a Value, field: &str) -> Option<&'a Value> {
    record
        .get(field)
        .or_else(|| record.as_object().and_then(|m| get_path(m, field)))
}

pub(super) fn op_list(ctx: &Ctx<'_>, route: &RouteSpec, state: &State) -> Result<Reply, Failure> {
    let coll = collection(route, state)?;
    let vars = ctx.vars(Vec::new());
    let filters: Vec<(&String, String)> = route.filter.iter().map(|(f, t)| (f, t.render(&vars))).collect();
    let query_filters: Vec<(&String, Vec<String>)> = route
        .query_filter
        .iter()
        .filter_map(|(param, field)| {
            let value = ctx.query.get(param)?;
            Some((field, value.split(',').map(|v| v.trim().to_lowercase()).collect()))
        })
        .collect();
    let expression = match &route.filter_expression {
        Some(spec) => match ctx.query.get(&spec.param).filter(|v| !v.trim().is_empty()) {
            Some(text) => Some(parse_filter_expression(text, spec)?),
            None => None,
        },
        None => None,
    };
    let search = match &route.search_query {
        Some(spec) => search::parse(ctx.query.get(&spec.param).map_or("", String::as_str), spec)?,
        None => Vec::new(),
    };
    let items: Vec<Value> = coll
        .records
        .values()
        .filter(|r| search.iter().all(|c| c.matches(r)))
        .filter(|r| {
            expression
                .as_ref()
                .is_none_or(|clauses| clauses.iter().all(|c| c.matches(r)))
        })
        .filter(|r| {
            filters
                .iter()
                .all(|(field, want)| field_of(r, field).is_some_and(|v| value_to_text(v) == *want))
                && query_filters.iter().all(|(field, wanted)| {
                    field_of(r, field).is_some_and(|v| match v {
                        Value::Array(items) => items.iter().any(|i| wanted.contains(&value_to_text(i).to_lowercase())),
                        v => wanted.contains(&value_to_text(v).to_lowercase()),
                    })
                })
        })
        .cloned()
        .collect();
    let response = &route.response;
    let projected =
        |items: Vec<Value>| -> Vec<Value> { items.iter().map(|r| project(r, response, &ctx.query)).collect() };
    let Some(paginate) = &route.paginate else {
        let items = projected(items);
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
        return Ok(range_page(ctx, paginate, response, projected(items), &vars));
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
    // Projected once the cursor is read: a keyset field need not be answered (JumpCloud's
    // `search_after` values travel in a header, not in the events).
    let page_items: Vec<Value> = page_items
        .iter()
        .map(|r| project(r, &route.response, &ctx.query))
        .collect();
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
