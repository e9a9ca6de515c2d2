//! `{{placeholder}}` templates, as used by paths, headers and base URLs.
//!
//! Hand-written rather than a template engine: the language is one construct (a dotted
//! lookup into a JSON scope), and a general engine would bring loops, filters and escapes
//! that a definition must never need. Templates are parsed once at catalog load.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    /// A dotted path into the scope, e.g. `context.api_token`.
    Var(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    #[error("unclosed `{{{{` in template `{0}`")]
    Unclosed(String),
    #[error("empty placeholder in template `{0}`")]
    Empty(String),
    #[error("missing value for `{{{{{0}}}}}`")]
    Missing(String),
    #[error("`{{{{{0}}}}}` is not a string or number")]
    NotScalar(String),
    #[error("`{value}` cannot be used as a path segment")]
    DotSegment { value: String },
}

/// How a rendered value is written into the output.
#[derive(Debug, Clone, Copy)]
pub enum Encoding {
    /// As is (headers, base URLs checked afterwards against allowed hosts).
    Raw,
    /// Percent-encoded as a single URL path segment: `/`, `?`, `#`, `%` and friends cannot
    /// escape the segment, and `.`/`..` are refused outright.
    PathSegment,
}

/// Everything outside RFC 3986 `unreserved` is encoded in a path segment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Template {
    pub fn parse(src: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = src;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| TemplateError::Unclosed(src.to_string()))?;
            let name = after[..end].trim();
            if name.is_empty() {
                return Err(TemplateError::Empty(src.to_string()));
            }
            parts.push(Part::Var(name.split('.').map(str::to_string).collect()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// True when the template has no placeholder.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The placeholder paths, e.g. `["context", "api_token"]`.
    pub fn variables(&self) -> impl Iterator<Item = &[String]> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_slice()),
            Part::Lit(_) => None,
        })
    }

    pub fn render(&self, scope: &Value, encoding: Encoding) -> Result<String, TemplateError> {
        self.render_with(|key| scope.get(key), encoding)
    }

    /// As [`Template::render`] over the object of these named parts (`id`, `context`, ...),
    /// without building it: a provider request's templates would otherwise copy the
    /// account's context into a new object on every call.
    pub fn render_in(&self, roots: &[(&str, &Value)], encoding: Encoding) -> Result<String, TemplateError> {
        self.render_with(
            |key| roots.iter().find(|(name, _)| *name == key).map(|(_, v)| *v),
            encoding,
        )
    }

    fn render_with<'v>(
        &self,
        root: impl Fn(&str) -> Option<&'v Value>,
        encoding: Encoding,
    ) -> Result<String, TemplateError> {
        // Rendered on every provider call: no allocation but the output (the placeholder's
        // name is only joined for an error).
        let mut out = String::with_capacity(self.parts.iter().map(Part::len_hint).sum());
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Var(path) => {
                    let name = || path.join(".");
                    let v = path
                        .split_first()
                        .and_then(|(first, rest)| rest.iter().try_fold(root(first)?, |v, key| v.get(key)))
                        .ok_or_else(|| TemplateError::Missing(name()))?;
                    let number;
                    let text = match v {
                        Value::String(s) => s.as_str(),
                        Value::Number(n) => {
                            number = n.to_string();
                            number.as_str()
                        }
                        Value::Bool(true) => "true",
                        Value::Bool(false) => "false",
                        Value::Null => return Err(TemplateError::Missing(name())),
                        _ => return Err(TemplateError::NotScalar(name())),
                    };
                    match encoding {
                        Encoding::Raw => out.push_str(text),
                        Encoding::PathSegment => {
                            if text == "." || text == ".." || text.is_empty() {
                                return Err(TemplateError::DotSegment {
                                    value: text.to_string(),
                                });
                            }
                            out.extend(percent_encoding::utf8_percent_encode(text, SEGMENT));
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Part {
    /// A guess at the rendered length, to allocate the output once.
    fn len_hint(&self) -> usize {
        match self {
            Part::Lit(s) => s.len(),
            Part::Var(_) => 16,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_rendered_from_the_scope() {
        let t = Template::parse("Token {{context.api_token}}").unwrap();
        let out = t
            .render(&json!({"context": {"api_token": "k1"}}), Encoding::Raw)
            .unwrap();
        assert_eq!(out, "Token k1");
    }

    /// Named parts render exactly as the object made of them, errors included.
    #[test]
    fn named_parts_render_as_their_object() {
        let id = json!("a/b");
        let context = json!({"org": "octo", "n": 7, "nested": {"k": "v"}, "gone": null});
        let roots: [(&str, &Value); 2] = [("id", &id), ("context", &context)];
        let object = json!({"id": id, "context": context});
        for src in [
            "/orgs/{{context.org}}/{{id}}",
            "{{context.n}}-{{context.nested.k}}",
            "{{context.missing}}",
            "{{context.gone}}",
            "{{context.nested}}",
            "{{other}}",
            "{{id.deeper}}",
        ] {
            let t = Template::parse(src).unwrap();
            for encoding in [Encoding::Raw, Encoding::PathSegment] {
                assert_eq!(t.render_in(&roots, encoding), t.render(&object, encoding), "{src}");
            }
        }
    }

    #[test]
    fn an_id_cannot_escape_its_path_segment() {
        let t = Template::parse("/orgs/{{id}}").unwrap();
        let out = t
            .render(&json!({"id": "a/../b?x=1#f%2F"}), Encoding::PathSegment)
            .unwrap();
        assert_eq!(out, "/orgs/a%2F..%2Fb%3Fx%3D1%23f%252F");
        assert!(t.render(&json!({"id": ".."}), Encoding::PathSegment).is_err());
        assert!(t.render(&json!({"id": "."}), Encoding::PathSegment).is_err());
    }

    #[test]
    fn a_missing_value_names_the_placeholder() {
        let t = Template::parse("/x/{{context.org}}").unwrap();
        let err = t.render(&json!({"context": {}}), Encoding::Raw).unwrap_err();
        assert_eq!(err, TemplateError::Missing("context.org".into()));
    }

    #[test]
    fn unclosed_placeholders_are_rejected() {
        assert!(Template::parse("/x/{{id").is_err());
        assert!(Template::parse("/x/{{ }}").is_err());
    }
}
