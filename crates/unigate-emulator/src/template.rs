//! `{{placeholder}}` templates over JSON values.
//!
//! Templates are plain JSON (written as YAML in `emulator.yaml`) whose strings may contain
//! `{{dotted.path}}` placeholders looked up in a context object:
//!
//! - a string that is exactly one placeholder (`"{{record.id}}"`) is replaced by the value
//!   itself, keeping its JSON type (a number stays a number, an array stays an array);
//! - placeholders inside a longer string are interpolated as text (`"Bearer {{credentials.token}}"`);
//! - an object `{ "$each": "path", "as": "name", "template": ... }` renders `template` once
//!   per element of the array at `path`, with the element bound to `name` (default `item`).
//!
//! A placeholder whose path is missing renders as `null` (whole-string form) or as the empty
//! string (interpolated form). Templates are checked when the file is loaded, so a typo such
//! as an unclosed `{{` is reported with its line rather than at request time.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A JSON value whose strings may hold `{{placeholders}}`; see the module docs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template(pub Value);

/// A single string with `{{placeholders}}`, rendered as text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StrTemplate(pub String);

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        check_value(&value).map_err(serde::de::Error::custom)?;
        Ok(Template(value))
    }
}

impl<'de> Deserialize<'de> for StrTemplate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        check_str(&text).map_err(serde::de::Error::custom)?;
        Ok(StrTemplate(text))
    }
}

impl Template {
    /// Renders the template against `ctx` (an object whose keys are the top-level names).
    pub fn render(&self, ctx: &Value) -> Value {
        render_value(&self.0, ctx)
    }

    /// Whether any placeholder of the template starts with `root` (used to skip building
    /// expensive context entries nobody reads).
    pub fn mentions(&self, root: &str) -> bool {
        mentions_value(&self.0, root)
    }
}

impl StrTemplate {
    /// Renders as text; non-string values are written as compact JSON.
    pub fn render(&self, ctx: &Value) -> String {
        interpolate(&self.0, ctx)
    }
}

/// Looks up a dotted path (`a.b.0.c`) in `ctx`.
pub fn lookup<'a>(ctx: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(ctx, |current, key| match current {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Text form of a value as it appears inside an interpolated string.
pub fn value_to_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render_value(template: &Value, ctx: &Value) -> Value {
    match template {
        Value::String(s) => render_string(s, ctx),
        Value::Array(items) => Value::Array(items.iter().map(|v| render_value(v, ctx)).collect()),
        Value::Object(map) => {
            if let Some(Value::String(path)) = map.get("$each") {
                return render_each(map, path, ctx);
            }
            Value::Object(map.iter().map(|(k, v)| (k.clone(), render_value(v, ctx))).collect())
        }
        other => other.clone(),
    }
}

fn render_each(map: &Map<String, Value>, path: &str, ctx: &Value) -> Value {
    let name = map.get("as").and_then(Value::as_str).unwrap_or("item");
    let inner = map.get("template").cloned().unwrap_or(Value::Null);
    let items = match lookup(ctx, path) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let mut scope = match ctx {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let rendered = items
        .into_iter()
        .map(|item| {
            scope.insert(name.to_owned(), item);
            render_value(&inner, &Value::Object(scope.clone()))
        })
        .collect();
    Value::Array(rendered)
}

fn render_string(s: &str, ctx: &Value) -> Value {
    if let Some(path) = whole_placeholder(s) {
        return lookup(ctx, path).cloned().unwrap_or(Value::Null);
    }
    if s.contains("{{") {
        Value::String(interpolate(s, ctx))
    } else {
        Value::String(s.to_owned())
    }
}

/// `Some(path)` when `s` is exactly `{{path}}`.
fn whole_placeholder(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

fn interpolate(s: &str, ctx: &Value) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let path = after[..end].trim();
                if let Some(value) = lookup(ctx, path) {
                    out.push_str(&value_to_text(value));
                }
                rest = &after[end + 2..];
            }
            None => {
                // Checked at load time; keep the text rather than lose it.
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn mentions_value(template: &Value, root: &str) -> bool {
    match template {
        Value::String(s) => placeholders(s).any(|p| p == root || p.starts_with(&format!("{root}."))),
        Value::Array(items) => items.iter().any(|v| mentions_value(v, root)),
        Value::Object(map) => {
            let each_path = map.get("$each").and_then(Value::as_str);
            each_path.is_some_and(|p| p == root || p.starts_with(&format!("{root}.")))
                || map.values().any(|v| mentions_value(v, root))
        }
        _ => false,
    }
}

fn placeholders(s: &str) -> impl Iterator<Item = &str> {
    s.split("{{")
        .skip(1)
        .filter_map(|part| part.split_once("}}").map(|(p, _)| p.trim()))
}

fn check_value(value: &Value) -> Result<(), String> {
    match value {
        Value::String(s) => check_str(s),
        Value::Array(items) => items.iter().try_for_each(check_value),
        Value::Object(map) => {
            if map.contains_key("$each") {
                if !map.get("$each").is_some_and(Value::is_string) {
                    return Err("`$each` must name an array, e.g. `$each: collections.organizations`".into());
                }
                if let Some(key) = map.keys().find(|k| !matches!(k.as_str(), "$each" | "as" | "template")) {
                    return Err(format!(
                        "unknown key `{key}` next to `$each` (expected `as`, `template`)"
                    ));
                }
            }
            map.values().try_for_each(check_value)
        }
        _ => Ok(()),
    }
}

fn check_str(s: &str) -> Result<(), String> {
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("unclosed `{{{{` in template {s:?}"));
        };
        let path = after[..end].trim();
        let valid = !path.is_empty()
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '$'));
        if !valid {
            return Err(format!("invalid placeholder `{{{{{path}}}}}` in template {s:?}"));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({"record": {"id": 7, "name": "Acme", "tags": ["a"]}, "credentials": {"token": "t0k"},
               "orgs": [{"id": "o1", "name": "One"}, {"id": "o2", "name": "Two"}]})
    }

    #[test]
    fn a_whole_placeholder_keeps_the_json_type() {
        let t = Template(json!({"id": "{{record.id}}", "tags": "{{record.tags}}"}));
        assert_eq!(t.render(&ctx()), json!({"id": 7, "tags": ["a"]}));
    }

    #[test]
    fn placeholders_inside_text_are_interpolated() {
        let t = StrTemplate("Bearer {{credentials.token}} for {{ record.name }}".into());
        assert_eq!(t.render(&ctx()), "Bearer t0k for Acme");
    }

    #[test]
    fn missing_paths_render_as_null_or_empty_text() {
        assert_eq!(Template(json!("{{nope.x}}")).render(&ctx()), Value::Null);
        assert_eq!(StrTemplate("a{{nope}}b".into()).render(&ctx()), "ab");
    }

    #[test]
    fn each_renders_the_template_once_per_element() {
        let t = Template(json!({"$each": "orgs", "as": "org", "template": {"org_id": "{{org.id}}", "role": "admin"}}));
        assert_eq!(
            t.render(&ctx()),
            json!([{"org_id": "o1", "role": "admin"}, {"org_id": "o2", "role": "admin"}])
        );
    }

    #[test]
    fn unclosed_and_invalid_placeholders_are_rejected() {
        assert!(check_str("Bearer {{credentials.token").is_err());
        assert!(check_str("{{ }}").is_err());
        assert!(check_str("{{a b}}").is_err());
        assert!(check_str("plain } and { text").is_ok());
    }

    #[test]
    fn mentions_finds_roots_of_placeholders() {
        let t = Template(json!({"x": {"$each": "collections.orgs", "template": "{{item.id}}"}}));
        assert!(t.mentions("collections"), "the $each path counts");
        assert!(!t.mentions("record"));
        assert!(Template(json!("{{collections.orgs}}")).mentions("collections"));
    }
}
