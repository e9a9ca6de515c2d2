//! The whole `emulator.yaml`: its top-level keys ([`SpecFile`]), loading it into an
//! [`EmulatorSpec`] (read, parse, cross-field checks) and saying where it is wrong
//! ([`SpecError`]).

use std::fmt;
use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::auth::{AuthScheme, HeaderRule};
use super::collection::{CollectionSpec, IdGenerator};
use super::errors::ErrorsSpec;
use super::oauth::OAuthSpec;
use super::route::{Op, RouteSpec};
use crate::dotted::get_path;

/// An `emulator.yaml` that could not be loaded: where and why.
#[derive(Debug, thiserror::Error)]
pub struct SpecError {
    /// File path, or `<name>/emulator.yaml` when loaded from a string.
    pub file: String,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
    /// What is wrong, in one sentence.
    pub message: String,
    #[source]
    source: Option<std::io::Error>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// A loaded and validated `emulator.yaml`, ready to be served by [`crate::start`].
#[derive(Debug, Clone)]
pub struct EmulatorSpec {
    name: String,
    pub(crate) file: SpecFile,
}

impl EmulatorSpec {
    /// Parses and validates `src`; `name` is the provider name (the catalog folder, e.g. `github`).
    pub fn from_yaml(name: &str, src: &str) -> Result<Self, SpecError> {
        Self::parse(name, &format!("{name}/emulator.yaml"), src)
    }

    /// Reads, parses and validates a file; the provider name is the name of its folder.
    pub fn from_file(path: &Path) -> Result<Self, SpecError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| SpecError {
            file: file.clone(),
            line: None,
            column: None,
            message: format!("cannot read the file: {e}"),
            source: Some(e),
        })?;
        let name = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or("emulator");
        Self::parse(name, &file, &src)
    }

    fn parse(name: &str, file: &str, src: &str) -> Result<Self, SpecError> {
        let spec: SpecFile = serde_norway::from_str(src).map_err(|e| {
            let location = e.location();
            SpecError {
                file: file.to_owned(),
                line: location.as_ref().map(|l| l.line()),
                column: location.as_ref().map(|l| l.column()),
                message: e.to_string(),
                source: None,
            }
        })?;
        let spec = EmulatorSpec {
            name: name.to_owned(),
            file: spec,
        };
        spec.validate().map_err(|(message, needle)| SpecError {
            file: file.to_owned(),
            line: needle.and_then(|n| find_line(src, &n)),
            column: None,
            message,
            source: None,
        })?;
        Ok(spec)
    }

    /// The provider name, e.g. `github`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's `description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.file.description.as_deref()
    }

    /// The sandbox credentials this emulator accepts, e.g. `{"token": "ghp_..."}`.
    pub fn credentials(&self) -> &Map<String, Value> {
        &self.file.credentials
    }

    /// The OAuth client (id, secret) the emulator's OAuth server accepts, if it has one.
    pub fn oauth_client(&self) -> Option<(String, String)> {
        let oauth = self.file.oauth.as_ref()?;
        let vars = serde_json::json!({ "credentials": self.credentials() });
        Some((oauth.client_id.render(&vars), oauth.client_secret.render(&vars)))
    }

    /// Cross-field checks. The error carries a piece of text to locate the line with.
    fn validate(&self) -> Result<(), (String, Option<String>)> {
        let f = &self.file;
        if !f.base_path.is_empty() && (!f.base_path.starts_with('/') || f.base_path.ends_with('/')) {
            return Err((
                format!("base_path `{}` must start with `/` and not end with one", f.base_path),
                Some("base_path".into()),
            ));
        }
        for scheme in &f.auth {
            scheme.check().map_err(|m| (m, Some("auth".into())))?;
            if scheme.oauth.is_some() && f.oauth.is_none() {
                return Err((
                    "an `oauth` auth scheme needs an `oauth` server section".into(),
                    Some("auth".into()),
                ));
            }
        }
        if let Some(oauth) = &f.oauth {
            oauth.check().map_err(|m| (m, Some("oauth".into())))?;
        }
        for (name, collection) in &f.collections {
            for (i, record) in collection.records.iter().enumerate() {
                let Some(object) = record.as_object() else {
                    return Err((
                        format!("collections.{name}.records[{i}] is not an object"),
                        Some(name.clone()),
                    ));
                };
                let has_id = get_path(object, &collection.id_field).is_some_and(|v| !v.is_null());
                if !has_id && collection.generate_id == IdGenerator::None {
                    return Err((
                        format!(
                            "collections.{name}.records[{i}] has no `{}` and generate_id is none",
                            collection.id_field
                        ),
                        Some(name.clone()),
                    ));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, route) in f.routes.iter().enumerate() {
            let needle = Some(route.path.source.clone());
            let here = |m: String| {
                (
                    format!("routes[{i}] ({} {}): {m}", route.method, route.path.source),
                    needle.clone(),
                )
            };
            if let Some(base) = &route.base_path {
                if !base.starts_with('/') || base.ends_with('/') {
                    return Err(here(format!(
                        "base_path `{base}` must start with `/` and not end with one"
                    )));
                }
            }
            let when = format!("{:?} {:?}", route.when_query, route.when_body);
            let full = format!("{}{}", route.base_path.as_deref().unwrap_or(""), route.path.source);
            if !seen.insert((route.method.clone(), full, when)) {
                return Err(here("the same method and path appear twice".into()));
            }
            match (&route.collection, route.op) {
                (None, Op::Render) => {}
                (None, _) => return Err(here(format!("op `{}` needs a `collection`", route.op.as_str()))),
                (Some(c), _) if !f.collections.contains_key(c) => {
                    return Err(here(format!("unknown collection `{c}`")));
                }
                _ => {}
            }
            if route.op.needs_id() && route.id_param().is_none() && route.id_template.is_none() {
                return Err(here(format!(
                    "op `{}` needs a `{{param}}` in the path for the record id",
                    route.op.as_str()
                )));
            }
            if let Some(param) = &route.id_param {
                if !route.path.params().any(|p| p == param) {
                    return Err(here(format!("id_param `{param}` is not a parameter of the path")));
                }
                if route.id_template.is_some() {
                    return Err(here("give `id_param` or `id_template`, not both".into()));
                }
            }
            if let Some(copy) = &route.write.copy_from {
                if route.op != Op::Create {
                    return Err(here("`write.copy_from` only applies to op `create`".into()));
                }
                if !f.collections.contains_key(&copy.collection) {
                    return Err(here(format!(
                        "write.copy_from: unknown collection `{}`",
                        copy.collection
                    )));
                }
            }
            for op in &route.write.array_ops {
                if !matches!(route.op, Op::Create | Op::Merge | Op::Replace) {
                    return Err(here("`write.array_ops` only applies to write ops".into()));
                }
                match &op.from {
                    Some(from) if !f.collections.contains_key(from) => {
                        return Err(here(format!("write.array_ops: unknown collection `{from}`")));
                    }
                    None if !op.fields.is_empty() || !op.with.is_empty() => {
                        return Err(here("write.array_ops: `fields` and `with` need `from`".into()));
                    }
                    _ => {}
                }
            }
            if route.delegated_only.is_some() && !f.auth.iter().any(|a| a.oauth.is_some()) {
                return Err(here("`delegated_only` needs an `oauth` auth scheme".into()));
            }
            if route.soft_delete.is_some() && route.op != Op::Delete {
                return Err(here("`soft_delete` only applies to op `delete`".into()));
            }
            if route.paginate.is_some() && route.op != Op::List {
                return Err(here("`paginate` only applies to op `list`".into()));
            }
            if route.op == Op::Render && route.response.body.is_none() {
                return Err(here("op `render` needs `response.body`".into()));
            }
            if route.write.version_header.is_some() && !route.write.optimistic_version {
                return Err(here("version_header needs optimistic_version".into()));
            }
            if route.write.optimistic_version {
                let has_version = route
                    .collection
                    .as_ref()
                    .and_then(|c| f.collections.get(c))
                    .is_some_and(|c| c.version_field.is_some());
                if !has_version {
                    return Err(here("optimistic_version needs the collection's `version_field`".into()));
                }
            }
        }
        Ok(())
    }
}

/// 1-based number of the first line containing `needle`.
fn find_line(src: &str, needle: &str) -> Option<usize> {
    src.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// The whole file. Only `routes` is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpecFile {
    /// Free text: what is emulated and where the data comes from.
    #[serde(default)]
    pub description: Option<String>,
    /// Prefix of every route path, e.g. `/api/v1` (no trailing slash).
    #[serde(default)]
    pub base_path: String,
    /// Sandbox credentials the emulator accepts; `{{credentials.KEY}}` in templates.
    #[serde(default)]
    pub credentials: Map<String, Value>,
    /// Accepted authentication schemes; a request passes when any one matches. Empty: no auth.
    #[serde(default)]
    pub auth: Vec<AuthScheme>,
    /// Checks on request headers other than auth (e.g. an API version header).
    #[serde(default)]
    pub header_rules: Vec<HeaderRule>,
    /// Error bodies in the provider's own shape, per error kind.
    #[serde(default)]
    pub errors: ErrorsSpec,
    /// Named sets of records, in insertion order.
    #[serde(default)]
    pub collections: IndexMap<String, CollectionSpec>,
    /// What the server answers; matched in order.
    pub routes: Vec<RouteSpec>,
    /// An OAuth2 authorization server (authorize, token, revoke) beside the API.
    #[serde(default)]
    pub oauth: Option<OAuthSpec>,
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

    const MINIMAL: &str = r#"
credentials: { token: abc }
auth:
  - { header: Authorization, value: "Bearer {{credentials.token}}" }
collections:
  things:
    records:
      - { id: "1", name: one }
routes:
  - { method: get, path: "/things/{id}", op: get, collection: things }
"#;

    #[test]
    fn a_minimal_spec_loads() {
        let spec = EmulatorSpec::from_yaml("demo", MINIMAL).expect("valid");
        assert_eq!(spec.name(), "demo");
        assert_eq!(spec.credentials()["token"], "abc");
        assert_eq!(spec.file.routes[0].method, Method::GET);
    }

    #[test]
    fn an_unknown_key_is_reported_with_file_and_line() {
        let src = MINIMAL.replace("op: get,", "op: get, colection: x,");
        let err = EmulatorSpec::from_yaml("demo", &src).expect_err("unknown key");
        assert_eq!(err.file, "demo/emulator.yaml");
        assert_eq!(err.line, Some(10), "the route is on line 10");
        assert!(err.to_string().starts_with("demo/emulator.yaml:10:"), "{err}");
        assert!(err.message.contains("colection"), "{err}");
    }

    #[test]
    fn a_bad_regex_is_reported_with_its_line() {
        let src = format!(
            "{MINIMAL}  - method: put\n    path: /things/{{id}}\n    op: replace\n    collection: things\n    write:\n      fields:\n        name: {{ pattern: '(' }}\n"
        );
        let err = EmulatorSpec::from_yaml("demo", &src).expect_err("bad regex");
        assert_eq!(err.line, Some(17), "{err}");
    }

    #[test]
    fn a_route_to_an_unknown_collection_names_the_line() {
        let src = MINIMAL.replace("collection: things", "collection: thngs");
        let err = EmulatorSpec::from_yaml("demo", &src).expect_err("unknown collection");
        assert!(err.message.contains("unknown collection `thngs`"), "{err}");
        assert_eq!(err.line, Some(10));
    }

    #[test]
    fn an_auth_scheme_must_name_exactly_one_place() {
        let src = MINIMAL.replace("{ header: Authorization,", "{ header: Authorization, query: key,");
        let err = EmulatorSpec::from_yaml("demo", &src).expect_err("two places");
        assert!(err.message.contains("exactly one"), "{err}");
    }
}
