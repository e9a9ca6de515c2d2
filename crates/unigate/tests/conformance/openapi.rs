//! Just enough OpenAPI (3.0, 3.1) and Swagger 2.0 to check a recorded request against an
//! operation and to pull response examples out of it.
//!
//! Schemas are inlined (every `$ref` resolved, recursion cut at [`MAX_REF_DEPTH`]) and
//! rewritten into plain JSON Schema (`nullable`, boolean `exclusiveMinimum`) before the
//! `jsonschema` crate validates against them, so one validator handles both spec families.

use std::collections::HashSet;
use std::path::Path;

use serde_json::{json, Map, Value};
use unigate_emulator::RecordedRequest;

/// How many nested `$ref`s are followed before a schema is cut to `{}` (accepts anything).
const MAX_REF_DEPTH: usize = 12;

pub struct Spec {
    pub file: String,
    doc: Value,
    swagger2: bool,
    /// Path prefix of the provider's base URL that the spec's paths do not carry.
    prefix: String,
    ops: Vec<Operation>,
    /// Lower-cased header names and query names that carry credentials.
    auth_headers: HashSet<String>,
    auth_query: HashSet<String>,
}

pub struct Operation {
    pub method: String,
    pub template: String,
    segments: Vec<regex::Regex>,
    literal_segments: usize,
    /// Path-level and operation-level parameters, resolved; the operation's win.
    params: Vec<Value>,
    op: Value,
}

/// A found operation and its spec.
pub struct Matched<'a> {
    pub spec: &'a Spec,
    pub op: &'a Operation,
}

#[derive(Debug)]
pub enum LoadError {
    /// The file is not OpenAPI or Swagger: skipped with this reason.
    NotOpenApi(String),
    Broken(String),
}

impl Spec {
    pub fn load(path: &Path, prefix: &str) -> Result<Spec, LoadError> {
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::Broken(format!("{file}: {e}")))?;
        let doc: Value = if file.ends_with(".yaml") || file.ends_with(".yml") {
            serde_norway::from_str(&text).map_err(|e| LoadError::Broken(format!("{file}: {e}")))?
        } else {
            serde_json::from_str(&text).map_err(|e| LoadError::Broken(format!("{file}: {e}")))?
        };
        let swagger2 = doc.get("swagger").is_some();
        if !swagger2 && doc.get("openapi").is_none() {
            let keys: Vec<&str> = doc
                .as_object()
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            return Err(LoadError::NotOpenApi(format!(
                "{file} is not OpenAPI or Swagger (top-level keys: {}), so it has no operations to check requests against",
                keys.join(", ")
            )));
        }
        let mut spec = Spec {
            file,
            doc,
            swagger2,
            prefix: prefix.trim_end_matches('/').to_string(),
            ops: Vec::new(),
            auth_headers: HashSet::from(["authorization".to_string()]),
            auth_query: HashSet::new(),
        };
        spec.index();
        Ok(spec)
    }

    fn index(&mut self) {
        let schemes = if self.swagger2 {
            self.doc.get("securityDefinitions")
        } else {
            self.doc.pointer("/components/securitySchemes")
        };
        for scheme in schemes.and_then(Value::as_object).into_iter().flat_map(|m| m.values()) {
            let scheme = self.deref(scheme);
            if scheme["type"] == "apiKey" {
                let name = scheme["name"].as_str().unwrap_or_default().to_ascii_lowercase();
                match scheme["in"].as_str() {
                    Some("header") => self.auth_headers.insert(name),
                    Some("query") => self.auth_query.insert(name),
                    _ => false,
                };
            }
        }
        let mut ops = Vec::new();
        for (template, item) in self.doc["paths"].as_object().into_iter().flatten() {
            let item = self.deref(item);
            let shared: Vec<Value> = item["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| self.deref(p))
                .collect();
            for method in ["get", "put", "post", "delete", "patch"] {
                let Some(op) = item.get(method) else {
                    continue;
                };
                let mut params: Vec<Value> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| self.deref(p))
                    .collect();
                for p in &shared {
                    if !params.iter().any(|q| q["name"] == p["name"] && q["in"] == p["in"]) {
                        params.push(p.clone());
                    }
                }
                let segments: Vec<regex::Regex> = split(template).iter().map(|s| segment_regex(s)).collect();
                let literal_segments = split(template).iter().filter(|s| !s.contains('{')).count();
                ops.push(Operation {
                    method: method.to_ascii_uppercase(),
                    template: template.clone(),
                    segments,
                    literal_segments,
                    params,
                    op: op.clone(),
                });
            }
        }
        self.ops = ops;
    }

    /// The value a `$ref` points to (one level), or the value itself.
    fn deref(&self, v: &Value) -> Value {
        let mut v = v.clone();
        for _ in 0..MAX_REF_DEPTH {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.strip_prefix('#').and_then(|p| self.doc.pointer(p)) {
                    Some(target) => v = target.clone(),
                    None => return json!({}),
                },
                None => break,
            }
        }
        v
    }

    /// A self-contained JSON Schema: refs inlined, OpenAPI-only keywords rewritten.
    pub fn schema(&self, schema: &Value) -> Value {
        self.inline(schema, 0)
    }

    fn inline(&self, v: &Value, depth: usize) -> Value {
        if depth > MAX_REF_DEPTH {
            return json!({});
        }
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    return match r.strip_prefix('#').and_then(|p| self.doc.pointer(p)) {
                        Some(target) => self.inline(target, depth + 1),
                        None => json!({}),
                    };
                }
                let mut out = Map::new();
                for (k, x) in m {
                    match k.as_str() {
                        // Annotations and OpenAPI-only keywords.
                        "example" | "examples" | "discriminator" | "xml" | "externalDocs" | "nullable"
                        | "x-nullable" | "readOnly" | "writeOnly" | "deprecated" => {}
                        "exclusiveMinimum" | "exclusiveMaximum" if x.is_boolean() => {}
                        "required" if !x.is_array() => {}
                        "properties" | "patternProperties" | "definitions" | "$defs" => {
                            let props = x
                                .as_object()
                                .map(|p| p.iter().map(|(n, s)| (n.clone(), self.inline(s, depth))).collect())
                                .unwrap_or_default();
                            out.insert(k.clone(), Value::Object(props));
                        }
                        _ => {
                            out.insert(k.clone(), self.inline(x, depth));
                        }
                    }
                }
                if m.get("nullable") == Some(&json!(true)) || m.get("x-nullable") == Some(&json!(true)) {
                    if let Some(t) = out.get("type").and_then(Value::as_str).map(str::to_string) {
                        out.insert("type".into(), json!([t, "null"]));
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(|x| self.inline(x, depth)).collect()),
            other => other.clone(),
        }
    }

    /// The operation `req` addresses, if this spec has it: method and path template
    /// (`{param}` matches one segment); among several, the one with the most literal segments.
    /// The path is tried without the entry's prefix first, then whole (Webex serves
    /// `/v1/organizations` and `/identity/organizations` from one spec).
    pub fn find(&self, req: &RecordedRequest) -> Option<&Operation> {
        let stripped = req.path.strip_prefix(&self.prefix).filter(|_| !self.prefix.is_empty());
        stripped
            .into_iter()
            .chain([req.path.as_str()])
            .find_map(|path| self.find_path(&req.method, path))
    }

    fn find_path(&self, method: &str, path: &str) -> Option<&Operation> {
        let segs = split(path);
        self.ops
            .iter()
            .filter(|op| op.method == method && op.segments.len() == segs.len())
            .filter(|op| op.segments.iter().zip(&segs).all(|(re, s)| re.is_match(&decode(s))))
            .max_by_key(|op| op.literal_segments)
    }

    /// Everything about `req` that does not conform to `op`, one line each.
    pub fn check(&self, op: &Operation, req: &RecordedRequest) -> Vec<String> {
        let mut problems = Vec::new();
        let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let declares = |name: &str, location: &str| {
            op.params.iter().find(|p| {
                p["in"] == location
                    && p["name"]
                        .as_str()
                        .is_some_and(|n| n == name || name.strip_prefix(n).is_some_and(|rest| rest.starts_with('[')))
            })
        };

        // Query: every parameter sent is declared and valid; every required one is sent.
        for (name, value) in &query {
            if self.auth_query.contains(&name.to_ascii_lowercase()) {
                continue;
            }
            match declares(name, "query") {
                None => problems.push(format!("query parameter `{name}` is not declared by the operation")),
                Some(p) => {
                    if let Some(problem) = self.check_param_value(p, value) {
                        problems.push(format!("query parameter `{name}={value}`: {problem}"));
                    }
                }
            }
        }
        for p in &op.params {
            let name = p["name"].as_str().unwrap_or_default();
            if p["required"] != json!(true) {
                continue;
            }
            match p["in"].as_str() {
                Some("query")
                    if !query
                        .iter()
                        .any(|(k, _)| k == name || k.starts_with(&format!("{name}["))) =>
                {
                    problems.push(format!("required query parameter `{name}` is missing"));
                }
                Some("header")
                    if !self.auth_headers.contains(&name.to_ascii_lowercase()) && req.header(name).is_none() =>
                {
                    problems.push(format!("required header `{name}` is missing"));
                }
                _ => {}
            }
        }
        // Path parameters: the values must fit their schemas (a numeric id, say).
        let mut segs = split(req.path.strip_prefix(&self.prefix).unwrap_or(&req.path));
        if segs.len() != op.segments.len() {
            segs = split(&req.path);
        }
        for (tpl, value) in split(&op.template).iter().zip(&segs) {
            if let Some(name) = tpl.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if let Some(p) = declares(name, "path") {
                    if let Some(problem) = self.check_param_value(p, &decode(value)) {
                        problems.push(format!("path parameter `{name}={}`: {problem}", decode(value)));
                    }
                }
            }
        }

        problems.extend(self.check_security(op, req, &query));
        problems.extend(self.check_body(op, req));
        problems
    }

    fn check_param_value(&self, p: &Value, value: &str) -> Option<String> {
        let schema = if self.swagger2 {
            let mut s = p.clone();
            if let Some(m) = s.as_object_mut() {
                for k in [
                    "name",
                    "in",
                    "required",
                    "description",
                    "collectionFormat",
                    "allowEmptyValue",
                ] {
                    m.remove(k);
                }
            }
            s
        } else {
            p.get("schema").cloned()?
        };
        let schema = self.schema(&schema);
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if types.iter().any(|t| *t == "array" || *t == "object") {
            return None; // serialization styles are not checked
        }
        let typed = if types.contains(&"integer") || types.contains(&"number") {
            match (value.parse::<i64>(), value.parse::<f64>()) {
                (Ok(n), _) => json!(n),
                (_, Ok(n)) if types.contains(&"number") => json!(n),
                _ => return Some(format!("expected {}", types.join("|"))),
            }
        } else if types.contains(&"boolean") {
            match value {
                "true" => json!(true),
                "false" => json!(false),
                _ => return Some("expected a boolean".into()),
            }
        } else {
            json!(value)
        };
        validate(&schema, &typed, self.draft()).err().map(|e| e.join("; "))
    }

    /// One of the declared security requirements is met (when any is declared).
    fn check_security(&self, op: &Operation, req: &RecordedRequest, query: &[(String, String)]) -> Vec<String> {
        let requirements = op.op.get("security").or_else(|| self.doc.get("security"));
        let Some(reqs) = requirements.and_then(Value::as_array).filter(|r| !r.is_empty()) else {
            return Vec::new();
        };
        let schemes = if self.swagger2 {
            self.doc.get("securityDefinitions")
        } else {
            self.doc.pointer("/components/securitySchemes")
        };
        let auth = req.header("authorization").unwrap_or_default().to_ascii_lowercase();
        let met = |name: &str| -> bool {
            let Some(s) = schemes.and_then(|s| s.get(name)).map(|s| self.deref(s)) else {
                return true; // an undeclared scheme cannot be checked
            };
            let key = s["name"].as_str().unwrap_or_default();
            match (s["type"].as_str(), s["in"].as_str(), s["scheme"].as_str()) {
                (Some("apiKey"), Some("header"), _) => req.header(key).is_some(),
                (Some("apiKey"), Some("query"), _) => query.iter().any(|(k, _)| k == key),
                (Some("apiKey"), Some("cookie"), _) => req.header("cookie").is_some_and(|c| c.contains(key)),
                (Some("http"), _, Some(scheme)) => auth.starts_with(&format!("{} ", scheme.to_ascii_lowercase())),
                (Some("basic"), _, _) => auth.starts_with("basic "),
                (Some("oauth2" | "openIdConnect"), _, _) => auth.starts_with("bearer "),
                _ => true,
            }
        };
        let ok = reqs.iter().any(|r| {
            r.as_object()
                .is_some_and(|m| m.is_empty() || m.keys().all(|name| met(name)))
        });
        if ok {
            Vec::new()
        } else {
            let names: Vec<String> = reqs
                .iter()
                .filter_map(Value::as_object)
                .map(|m| m.keys().cloned().collect::<Vec<_>>().join("+"))
                .collect();
            vec![format!(
                "credentials match none of the operation's security requirements ({})",
                names.join(" | ")
            )]
        }
    }

    fn check_body(&self, op: &Operation, req: &RecordedRequest) -> Vec<String> {
        let mut problems = Vec::new();
        let sent = !req.body.is_empty();
        let content_type = req
            .header("content-type")
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
        // (media types accepted, schema, required)
        let (media, schema, required): (Vec<String>, Option<Value>, bool) = if self.swagger2 {
            let body = op.params.iter().find(|p| p["in"] == "body");
            let form = op.params.iter().any(|p| p["in"] == "formData");
            let consumes = op
                .op
                .get("consumes")
                .or_else(|| self.doc.get("consumes"))
                .and_then(Value::as_array)
                .map(|c| c.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_else(|| vec!["application/json".to_string()]);
            if body.is_none() && !form {
                (Vec::new(), None, false)
            } else {
                (
                    consumes,
                    body.map(|b| b["schema"].clone()),
                    body.is_some_and(|b| b["required"] == json!(true)),
                )
            }
        } else {
            match op.op.get("requestBody").map(|b| self.deref(b)) {
                None => (Vec::new(), None, false),
                Some(b) => {
                    let content = b["content"].as_object().cloned().unwrap_or_default();
                    let schema = content
                        .iter()
                        .find(|(k, _)| Some(k.as_str()) == content_type.as_deref())
                        .or_else(|| content.iter().find(|(k, _)| k.contains("json")))
                        .and_then(|(_, m)| m.get("schema").cloned());
                    (content.keys().cloned().collect(), schema, b["required"] == json!(true))
                }
            }
        };
        if !sent {
            if required {
                problems.push("the operation requires a body; none was sent".into());
            }
            return problems;
        }
        if media.is_empty() {
            problems.push(format!(
                "a body was sent ({}) but the operation declares none",
                truncate(&req.body_text(), 120)
            ));
            return problems;
        }
        if let Some(ct) = &content_type {
            let accepted = media.iter().any(|m| {
                let m = m.to_ascii_lowercase();
                m == *ct || m == "*/*" || (m.ends_with("/*") && ct.starts_with(m.trim_end_matches('*')))
            });
            if !accepted {
                problems.push(format!(
                    "content type `{ct}` is not one the operation accepts ({})",
                    media.join(", ")
                ));
            }
        }
        match (&req.json, schema) {
            (Some(body), Some(schema)) => {
                if let Err(errors) = validate(&self.schema(&schema), body, self.draft()) {
                    for e in errors {
                        problems.push(format!("body {body}: {e}"));
                    }
                }
            }
            (None, Some(_)) if content_type.as_deref().is_some_and(|c| c.contains("json")) => {
                problems.push("the body is declared JSON but does not parse".into());
            }
            _ => {} // form bodies and bodies without a schema: media type checked only
        }
        problems
    }

    fn draft(&self) -> jsonschema::Draft {
        match self.doc["openapi"].as_str() {
            Some(v) if v.starts_with("3.1") => jsonschema::Draft::Draft202012,
            _ => jsonschema::Draft::Draft4,
        }
    }

    /// The operation's 2xx response examples for JSON: `example`, `examples` (named, or a
    /// list), or, when it gives none, one sample generated from its schema.
    pub fn response_examples(&self, op: &Operation) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        let mut schemas = Vec::new();
        let responses = op.op["responses"].as_object().cloned().unwrap_or_default();
        for (code, resp) in responses.iter().filter(|(c, _)| c.starts_with('2')) {
            let resp = self.deref(resp);
            if self.swagger2 {
                if let Some(ex) = resp["examples"].as_object() {
                    for (media, v) in ex.iter().filter(|(m, _)| m.contains("json")) {
                        out.push((format!("{code} examples[{media}]"), v.clone()));
                    }
                }
                if let Some(s) = resp.get("schema") {
                    schemas.push((code.clone(), s.clone()));
                }
                continue;
            }
            let content = resp["content"].as_object().cloned().unwrap_or_default();
            for (media, m) in content
                .iter()
                .filter(|(k, _)| k.contains("json") || k.as_str() == "*/*")
            {
                if let Some(ex) = m.get("example") {
                    out.push((format!("{code} {media} example"), ex.clone()));
                }
                if let Some(ex) = m["examples"].as_object() {
                    for (name, e) in ex {
                        let e = self.deref(e);
                        if let Some(v) = e.get("value") {
                            out.push((format!("{code} {media} examples.{name}"), v.clone()));
                        }
                    }
                }
                if let Some(s) = m.get("schema") {
                    schemas.push((format!("{code} {media}"), s.clone()));
                }
            }
        }
        if out.is_empty() {
            for (label, s) in schemas {
                out.push((format!("{label} sample from schema"), self.sample(&s, None, 0)));
            }
        }
        out
    }

    /// A value that fits `schema`, preferring its own examples. `name` is the property the
    /// value is for: a string or integer without an example or format whose name says it is
    /// a time (`created`, `updatedAt`, `modified_time`) gets a date-time or Unix seconds, as
    /// providers send, rather than `"string"` or `1`.
    fn sample(&self, schema: &Value, name: Option<&str>, depth: usize) -> Value {
        if depth > MAX_REF_DEPTH {
            return Value::Null;
        }
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return match r.strip_prefix('#').and_then(|p| self.doc.pointer(p)) {
                Some(t) => self.sample(t, name, depth + 1),
                None => Value::Null,
            };
        }
        if let Some(ex) = schema.get("example").or_else(|| schema.get("x-example")) {
            return ex.clone();
        }
        if let Some(ex) = schema["examples"].as_array().and_then(|e| e.first()) {
            return ex.clone();
        }
        if let Some(all) = schema["allOf"].as_array() {
            let mut merged = Map::new();
            for s in all {
                if let Value::Object(m) = self.sample(s, name, depth + 1) {
                    merged.extend(m);
                }
            }
            return Value::Object(merged);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = schema[key].as_array().and_then(|a| a.first()) {
                return self.sample(first, name, depth + 1);
            }
        }
        if let Some(v) = schema
            .get("default")
            .or_else(|| schema["enum"].as_array().and_then(|e| e.first()))
        {
            return v.clone();
        }
        let ty = match &schema["type"] {
            Value::String(t) => t.as_str(),
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ if schema.get("properties").is_some() => "object",
            _ => "",
        };
        let timeish = name.is_some_and(|n| {
            let n = n.to_ascii_lowercase();
            ["created", "updated", "modified", "date", "time", "_at"]
                .iter()
                .any(|w| n.contains(w))
        });
        match ty {
            "object" => Value::Object(
                schema["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, s)| (k.clone(), self.sample(s, Some(k), depth + 1)))
                    .collect(),
            ),
            "array" => json!([self.sample(&schema["items"], None, depth + 1)]),
            "integer" if timeish => json!(1_700_000_000),
            "integer" => json!(1),
            "number" => json!(1.5),
            "boolean" => json!(true),
            "string" => json!(match schema["format"].as_str() {
                Some("date-time") => "2024-01-02T03:04:05Z",
                None if timeish => "2024-01-02T03:04:05Z",
                Some("date") => "2024-01-02",
                Some("uuid") => "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                Some("email") => "someone@example.com",
                Some("uri" | "url") => "https://example.com/",
                _ => "string",
            }),
            _ => Value::Null,
        }
    }
}

/// Validates `instance`; the errors as `at /path: message` lines.
pub fn validate(schema: &Value, instance: &Value, draft: jsonschema::Draft) -> Result<(), Vec<String>> {
    let validator = match jsonschema::options().with_draft(draft).build(schema) {
        Ok(v) => v,
        // A schema the validator cannot compile says nothing about the request.
        Err(_) => return Ok(()),
    };
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("at `{}`: {e}", if at.is_empty() { "/" } else { &at })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn split(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// `{param}` matches one non-empty segment; literal text around it must match exactly
/// (`organizations({id})` works too).
fn segment_regex(segment: &str) -> regex::Regex {
    let mut pattern = String::from("^");
    let mut rest = segment;
    while let Some(start) = rest.find('{') {
        pattern.push_str(&regex::escape(&rest[..start]));
        match rest[start..].find('}') {
            Some(end) => {
                pattern.push_str("[^/]+");
                rest = &rest[start + end + 1..];
            }
            None => {
                pattern.push_str(&regex::escape(&rest[start..]));
                rest = "";
            }
        }
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    regex::Regex::new(&pattern).unwrap_or_else(|_| regex::Regex::new("^$").unwrap())
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

impl Matched<'_> {
    pub fn describe(&self) -> String {
        format!("{} {} ({})", self.op.method, self.op.template, self.spec.file)
    }
}
