//! `GET /docs`: a readable API reference, rendered on the server from the same OpenAPI
//! document `/openapi.json` serves (built once per catalog, `meta::described`), so the page
//! can never drift from the document nor the document from the catalog.
//!
//! Plain HTML and one inline style sheet: no script, no font, nothing from a CDN, so the
//! page works offline and its Content-Security-Policy allows nothing but that style sheet
//! (by its hash). Every text from the document is escaped: descriptions come from catalog
//! files, which an operator's `--catalog` may add.

use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/docs", get(page))
}

/// Public, like `/openapi.json`: it shows only what the catalog says.
async fn page(State(state): State<AppState>) -> Response {
    let described = super::meta::described(&state);
    let html = described
        .html
        .get_or_init(|| Bytes::from(render(&described.doc)))
        .clone();
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP.as_str()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        html,
    )
        .into_response()
}

const STYLE: &str = r#"
:root { --fg: #1d2330; --muted: #5b6475; --line: #dfe3ea; --bg: #f7f8fa; --accent: #2456c7; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); display: flex; }
nav { position: sticky; top: 0; height: 100vh; overflow-y: auto; width: 270px; flex: none; background: var(--bg); border-right: 1px solid var(--line); padding: 16px; }
nav h1 { font-size: 18px; margin: 0 0 4px; }
nav h2 { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); margin: 18px 0 4px; }
nav ul { list-style: none; margin: 0; padding: 0; }
nav li a { display: block; padding: 2px 6px; border-radius: 4px; color: var(--fg); text-decoration: none; }
nav li a:hover { background: var(--line); }
nav .count { color: var(--muted); font-size: 12px; }
main { flex: 1; min-width: 0; padding: 24px 40px 80px; max-width: 1100px; }
a { color: var(--accent); }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--bg); padding: 1px 4px; border-radius: 3px; }
section.tag { border-top: 2px solid var(--line); margin-top: 32px; }
section.tag > h2 { margin: 16px 0 8px; }
article.op { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 14px 0; }
article.op h3 { margin: 0 0 6px; font-size: 16px; font-weight: 600; }
.method { display: inline-block; min-width: 62px; text-align: center; font: 600 12px/20px ui-monospace, monospace; color: #fff; border-radius: 4px; margin-right: 8px; background: #6b7280; }
.method.get { background: #1f7a4d; } .method.post { background: #2456c7; } .method.patch, .method.put { background: #a15c00; } .method.delete { background: #b42318; }
.muted, .op .id { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); padding: 4px 8px; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
.chip { display: inline-block; font-size: 12px; background: #e8eefc; color: #1b3d8f; border-radius: 10px; padding: 0 8px; margin: 1px 2px; }
.req { color: #b42318; font-size: 12px; }
h4 { margin: 10px 0 2px; font-size: 14px; }
"#;

static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
});

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    crate::mapping::functions::escape_html(text)
}

/// A description: escaped, with Markdown's `code` spans (the catalog's descriptions use
/// them) as `<code>`. Escaping comes first, so a span holds only escaped text.
fn prose(text: &str) -> String {
    let escaped = esc(text);
    let mut out = String::with_capacity(escaped.len());
    let mut parts = escaped.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let rest: Vec<&str> = parts.collect();
    // An odd backtick at the end stays a backtick.
    let pairs = rest.len() / 2 * 2;
    for (i, part) in rest.iter().enumerate() {
        if i >= pairs {
            out.push('`');
            out.push_str(part);
        } else if i % 2 == 0 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// An id for an anchor: letters, digits, `.`, `-` and `_`; anything else becomes `-`.
fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn names(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn chips(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("<span class=\"chip\">{}</span>", esc(n)))
        .collect()
}

/// `#/components/schemas/UserDirectoryUsers` → `UserDirectoryUsers`.
fn ref_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
}

/// A schema's type in a few words: `string (date-time)`, `array of UserDirectoryUsers`,
/// `string | null`, one of several.
fn type_of(schema: &Value) -> String {
    if let Some(name) = ref_name(schema) {
        return format!("<a href=\"#schema-{}\">{}</a>", esc(&slug(name)), esc(name));
    }
    if let Some(options) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        return options.iter().map(type_of).collect::<Vec<_>>().join(" | ");
    }
    let base = match schema.get("type") {
        Some(Value::String(t)) => esc(t),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(esc)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_string(),
    };
    let mut out = if base.starts_with("array") {
        match schema.get("items") {
            Some(items) => format!("array of {}", type_of(items)),
            None => base,
        }
    } else {
        base
    };
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let _ = write!(out, " ({})", esc(format));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let list: Vec<String> = values
            .iter()
            .map(|v| {
                format!(
                    "<code>{}</code>",
                    esc(&v.as_str().map_or_else(|| v.to_string(), str::to_string))
                )
            })
            .collect();
        let _ = write!(out, ": {}", list.join(", "));
    }
    out
}

/// A request or response schema in one line: its type and, for an object, its fields.
fn summary(doc: &Value, schema: &Value) -> String {
    let mut out = type_of(schema);
    let resolved = ref_name(schema)
        .and_then(|n| doc.pointer(&format!("/components/schemas/{n}")))
        .unwrap_or(schema);
    if let Some(props) = resolved.get("properties").and_then(Value::as_object) {
        let fields: Vec<String> = props.keys().map(|k| format!("<code>{}</code>", esc(k))).collect();
        let _ = write!(out, " with {}", fields.join(", "));
    }
    out
}

struct Op<'a> {
    path: &'a str,
    verb: &'a str,
    op: &'a Value,
}

/// The page for `doc`, an OpenAPI 3.1 document as `catalog::openapi::document` builds it.
pub fn render(doc: &Value) -> String {
    // Operations by tag, in the document's order.
    let mut tags: indexmap::IndexMap<&str, Vec<Op<'_>>> = indexmap::IndexMap::new();
    let empty = Map::new();
    for (path, item) in doc.get("paths").and_then(Value::as_object).unwrap_or(&empty) {
        for (verb, op) in item.as_object().unwrap_or(&empty) {
            let tag = op
                .get("tags")
                .and_then(|t| t.get(0))
                .and_then(Value::as_str)
                .unwrap_or("other");
            tags.entry(tag).or_default().push(Op { path, verb, op });
        }
    }
    let info = doc.get("info").unwrap_or(&Value::Null);
    let title = text(info, "title");
    let mut html = String::with_capacity(256 * 1024);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\"><title>{} API reference</title><style>{STYLE}</style></head><body>",
        esc(title)
    );
    nav(&mut html, title, text(info, "version"), &tags);
    let _ = write!(
        html,
        "<main><h1>{} API reference</h1><p>{}</p>\
         <p>Authentication: send an API token as <code>Authorization: Bearer &lt;token&gt;</code>. \
         The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI {}). \
         Errors have one shape: <a href=\"#schema-Error\">Error</a>.</p>",
        esc(title),
        prose(text(info, "description")),
        esc(text(doc, "openapi")),
    );
    for (tag, ops) in &tags {
        let _ = write!(
            html,
            "<section class=\"tag\" id=\"tag-{}\"><h2>{}</h2>",
            esc(&slug(tag)),
            esc(tag)
        );
        for op in ops {
            operation(&mut html, doc, op);
        }
        html.push_str("</section>");
    }
    schemas(&mut html, doc);
    html.push_str("</main></body></html>\n");
    html
}

fn nav(html: &mut String, title: &str, version: &str, tags: &indexmap::IndexMap<&str, Vec<Op<'_>>>) {
    let _ = write!(
        html,
        "<nav><h1>{}</h1><div class=\"muted\">version {}</div>",
        esc(title),
        esc(version)
    );
    // `user-directory/users` under `user-directory`; `admin` and `proxy` under "Admin and proxy".
    let mut group = None;
    for (tag, ops) in tags {
        let (heading, label) = tag.split_once('/').unwrap_or(("Admin and proxy", *tag));
        if group != Some(heading) {
            if group.is_some() {
                html.push_str("</ul>");
            }
            let _ = write!(html, "<h2>{}</h2><ul>", esc(heading));
            group = Some(heading);
        }
        let _ = write!(
            html,
            "<li><a href=\"#tag-{}\">{} <span class=\"count\">{}</span></a></li>",
            esc(&slug(tag)),
            esc(label),
            ops.len()
        );
    }
    if group.is_some() {
        html.push_str("</ul>");
    }
    html.push_str("<h2>Reference</h2><ul><li><a href=\"#schemas\">Schemas</a></li><li><a href=\"/openapi.json\">openapi.json</a></li></ul></nav>");
}

fn operation(html: &mut String, doc: &Value, Op { path, verb, op }: &Op<'_>) {
    let id = text(op, "operationId");
    let _ = write!(
        html,
        "<article class=\"op\" id=\"op-{}\"><h3><span class=\"method {}\">{}</span><code>{}</code></h3>\
         <div class=\"id\">{}</div><p><strong>{}</strong></p>",
        esc(&slug(id)),
        esc(verb),
        esc(&verb.to_ascii_uppercase()),
        esc(path),
        esc(id),
        prose(text(op, "summary")),
    );
    let description = text(op, "description");
    if !description.is_empty() {
        let _ = write!(html, "<p>{}</p>", prose(description));
    }
    if let Some(supporters) = op.get("x-unigate-integrations") {
        let list = names(Some(supporters));
        if list.is_empty() {
            html.push_str("<p><strong>Supported by:</strong> no integration yet.</p>");
        } else {
            let _ = write!(html, "<p><strong>Supported by:</strong> {}</p>", chips(&list));
        }
    }
    if let Some(unsupported) = op.get("x-unigate-unsupported-fields").and_then(Value::as_object) {
        html.push_str("<p><strong>Fields an integration does not write:</strong></p><ul>");
        for (integration, fields) in unsupported {
            let fields: Vec<String> = names(Some(fields))
                .iter()
                .map(|f| format!("<code>{}</code>", esc(f)))
                .collect();
            let _ = write!(html, "<li>{}: {}</li>", esc(integration), fields.join(", "));
        }
        html.push_str("</ul>");
    }
    if let Some(params) = op.get("parameters").and_then(Value::as_array).filter(|p| !p.is_empty()) {
        html.push_str("<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr>");
        for p in params {
            let required = if p.get("required").and_then(Value::as_bool) == Some(true) {
                " <span class=\"req\">required</span>"
            } else {
                ""
            };
            let mut description = prose(text(p, "description"));
            let takers = names(p.get("x-unigate-integrations"));
            if !takers.is_empty() {
                let _ = write!(description, "<br>{}", chips(&takers));
            }
            let _ = write!(
                html,
                "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td><td>{description}</td></tr>",
                esc(text(p, "name")),
                esc(text(p, "in")),
                p.get("schema").map(type_of).unwrap_or_default(),
            );
        }
        html.push_str("</table>");
    }
    if let Some(body) = op.pointer("/requestBody/content/application~1json/schema") {
        let _ = write!(html, "<h4>Request body</h4><p>{}</p>", summary(doc, body));
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        html.push_str("<h4>Responses</h4><ul>");
        let mut errors = vec![];
        for (status, response) in responses {
            let schema = response.pointer("/content/application~1json/schema");
            if status.starts_with('2') {
                let _ = write!(
                    html,
                    "<li><code>{}</code> {}</li>",
                    esc(status),
                    schema.map(|s| summary(doc, s)).unwrap_or_default()
                );
            } else {
                errors.push(format!(
                    "<code title=\"{}\">{}</code>",
                    esc(text(response, "description")),
                    esc(status)
                ));
            }
        }
        if !errors.is_empty() {
            let _ = write!(
                html,
                "<li>{}: <a href=\"#schema-Error\">Error</a></li>",
                errors.join(", ")
            );
        }
        html.push_str("</ul>");
    }
    html.push_str("</article>");
}

/// Every component schema with its fields: type, description, and the integrations that
/// fill each field (`x-unigate-integrations`).
fn schemas(html: &mut String, doc: &Value) {
    html.push_str("<section class=\"tag\" id=\"schemas\"><h2>Schemas</h2>");
    let empty = Map::new();
    for (name, schema) in doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or(&empty)
    {
        let _ = write!(
            html,
            "<article class=\"op\" id=\"schema-{}\"><h3>{}</h3>",
            esc(&slug(name)),
            esc(name)
        );
        let description = text(schema, "description");
        if !description.is_empty() {
            let _ = write!(html, "<p>{}</p>", prose(description));
        }
        fields(html, schema);
        html.push_str("</article>");
    }
    html.push_str("</section>");
}

fn fields(html: &mut String, schema: &Value) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        let _ = write!(html, "<p>{}</p>", type_of(schema));
        return;
    };
    let required = names(schema.get("required"));
    html.push_str("<table><tr><th>Field</th><th>Type</th><th>Description</th><th>Filled by</th></tr>");
    for (field, p) in props {
        let mark = if required.contains(&field.as_str()) {
            " <span class=\"req\">required</span>"
        } else {
            ""
        };
        let _ = write!(
            html,
            "<tr><td><code>{}</code>{mark}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(field),
            type_of(p),
            prose(text(p, "description")),
            chips(&names(p.get("x-unigate-integrations"))),
        );
    }
    html.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_escaped_and_code_spans_kept() {
        assert_eq!(
            prose("<b>\"x\" & `y<z>` and `open"),
            "&lt;b&gt;&quot;x&quot; &amp; <code>y&lt;z&gt;</code> and `open"
        );
        assert_eq!(slug("user-directory/users"), "user-directory-users");
        assert_eq!(slug("a\"><script>"), "a---script-");
    }
}
