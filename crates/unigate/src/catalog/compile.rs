//! Compiling catalog files: each definition parsed (`types`), checked and compiled into
//! the registry's types (templates and JSONata parsed, pagination formats, OAuth2
//! endpoints, headers and budgets checked, mappings resolved against resources). Every
//! problem is collected with its file and line, not just the first.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::registry::*;
use super::types::*;
use super::Sources;
use crate::mapping::template::Template;
use crate::mapping::Expr;
use crate::pagination::Pagination;
impl Registry {
    /// Validates and compiles a catalog; returns every problem found if any.
    pub fn build(sources: &Sources) -> Result<Registry, Vec<CatalogError>> {
        let mut errors = Vec::new();
        let mut registry = Registry::default();

        for (path, text) in sources.iter() {
            if let Some(rest) = path.strip_prefix("models/") {
                let Some(name) = rest.strip_suffix(".yaml") else {
                    continue;
                };
                if let Some(config) = parse_yaml::<ModelConfig>(path, text, &mut errors) {
                    if config.name != name {
                        errors.push(err(
                            path,
                            None,
                            format!("model name `{}` must match the file name `{name}`", config.name),
                        ));
                        continue;
                    }
                    registry.models.insert(config.name.clone(), Model { config });
                }
            }
        }

        // Group integration files by folder.
        let mut folders: IndexMap<String, Vec<(&str, &str)>> = IndexMap::new();
        for (path, text) in sources.iter() {
            if let Some(rest) = path.strip_prefix("integrations/") {
                if let Some((folder, file)) = rest.split_once('/') {
                    folders.entry(folder.to_string()).or_default().push((file, text));
                }
            }
        }
        for (folder, files) in folders {
            let dir = format!("integrations/{folder}");
            let Some((_, text)) = files.iter().find(|(f, _)| *f == "integration.yaml") else {
                errors.push(err(&dir, None, "missing integration.yaml".into()));
                continue;
            };
            let file = format!("{dir}/integration.yaml");
            let Some(config) = parse_yaml::<IntegrationConfig>(&file, text, &mut errors) else {
                continue;
            };
            if config.name != folder {
                errors.push(err(
                    &file,
                    find_line(text, "name:"),
                    format!("integration name `{}` must match its folder `{folder}`", config.name),
                ));
                continue;
            }
            let Some(mut integration) = compile_integration(&file, text, config, &mut errors) else {
                continue;
            };
            for (name, text) in &files {
                let path = format!("{dir}/{name}");
                if *name == "integration.yaml" {
                    continue;
                }
                if *name == "emulator.yaml" {
                    registry.emulators.insert(folder.clone(), text.to_string());
                    continue;
                }
                let Some(category) = name.strip_suffix(".yaml") else {
                    continue;
                };
                let Some(model) = registry.models.get(category) else {
                    errors.push(err(&path, None, format!("no unified model named `{category}` (file names other than integration.yaml and emulator.yaml name a model)")));
                    continue;
                };
                let Some(mappings) = parse_yaml::<CategoryMappingsConfig>(&path, text, &mut errors) else {
                    continue;
                };
                compile_mappings(&path, text, category, model, mappings, &mut integration, &mut errors);
            }
            registry.integrations.insert(folder, Arc::new(integration));
        }

        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(errors)
        }
    }
}

pub(super) fn err(file: &str, line: Option<usize>, message: String) -> CatalogError {
    CatalogError {
        file: file.to_string(),
        line,
        message,
    }
}

pub(super) fn parse_yaml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
    errors: &mut Vec<CatalogError>,
) -> Option<T> {
    match serde_norway::from_str::<T>(text) {
        Ok(v) => Some(v),
        Err(e) => {
            let message = e.to_string();
            let mut line = e.location().map(|l| l.line());
            // Inside a tagged enum (`pagination`, `credentials`) serde reports no useful
            // position: point at the unknown key itself.
            if let Some(key) = message
                .split_once("unknown field `")
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(key, _)| key)
            {
                let at = line.and_then(|l| text.lines().nth(l.saturating_sub(1)));
                if at.is_none_or(|l| !l.contains(key)) {
                    line = find_key_line(text, key).or(line);
                }
            }
            errors.push(err(file, line, message));
            None
        }
    }
}

/// The 1-based line of the first `key:` written as a YAML key.
fn find_key_line(text: &str, key: &str) -> Option<usize> {
    let wanted = format!("{key}:");
    text.lines()
        .position(|l| l.trim_start().trim_start_matches("- ").starts_with(&wanted))
        .map(|i| i + 1)
}

/// The 1-based line of the YAML key at `path` (`["resources", "users", "list",
/// "response_path"]`): each key searched after its parent's line, deeper than it, so two
/// equal expressions under different keys get their own lines.
pub(super) fn find_path_line(text: &str, path: &[&str]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let depth = |l: &str| l.len() - l.trim_start().len();
    // The block searched: the lines after the parent key, deeper than it.
    let (mut from, mut parent) = (0usize, None::<usize>);
    for key in path {
        let wanted = format!("{key}:");
        let mut found = None;
        for (i, l) in lines.iter().enumerate().skip(from) {
            if l.trim().is_empty() || l.trim_start().starts_with('#') {
                continue;
            }
            if parent.is_some_and(|p| depth(l) <= p) {
                break;
            }
            if l.trim_start().starts_with(&wanted) {
                found = Some(i);
                break;
            }
        }
        let i = found?;
        parent = Some(depth(lines[i]));
        from = i + 1;
    }
    Some(from)
}

/// The 1-based line where `needle` (its first line) first appears, to point at an
/// expression or a key that serde gave no position for.
pub(super) fn find_line(text: &str, needle: &str) -> Option<usize> {
    let first = needle.lines().map(str::trim).find(|l| !l.is_empty())?;
    text.lines().position(|l| l.contains(first)).map(|i| i + 1)
}

pub(super) fn compile_expr(
    file: &str,
    text: &str,
    what: &str,
    src: &str,
    errors: &mut Vec<CatalogError>,
) -> Option<Expr> {
    match Expr::compile(src) {
        Ok(e) => Some(e),
        Err(e) => {
            let path: Vec<&str> = what.split('.').collect();
            let line = find_path_line(text, &path).or_else(|| find_line(text, src));
            errors.push(err(file, line, format!("{what}: {e}")));
            None
        }
    }
}

pub(super) fn compile_template(
    file: &str,
    text: &str,
    what: &str,
    src: &str,
    errors: &mut Vec<CatalogError>,
) -> Option<Template> {
    match Template::parse(src) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(err(file, find_line(text, src), format!("{what}: {e}")));
            None
        }
    }
}

pub(super) fn compile_oauth2(
    file: &str,
    text: &str,
    config: &IntegrationConfig,
    errors: &mut Vec<CatalogError>,
) -> Option<OAuth2> {
    let credentials = &config.credentials;
    let needs = matches!(
        credentials.format,
        CredentialFormat::Oauth2 | CredentialFormat::Oauth2ClientCredentials
    );
    let Some(oc) = &credentials.oauth2 else {
        if needs {
            errors.push(err(
                file,
                find_line(text, "credentials:"),
                format!(
                    "credentials format `{}` needs an `oauth2` section with the provider's token_url",
                    serde_json::to_value(credentials.format)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or_default()
                ),
            ));
        }
        return None;
    };
    if credentials.format == CredentialFormat::Oauth2 && oc.authorize_url.is_none() {
        errors.push(err(
            file,
            find_line(text, "oauth2:"),
            "the `oauth2` format needs `oauth2.authorize_url` for the connect flow".into(),
        ));
    }
    let mut url = |what: &str, src: &str| {
        let t = compile_template(file, text, what, src, errors)?;
        if t.is_static() && url::Url::parse(src).is_err() {
            errors.push(err(file, find_line(text, src), format!("{what} is not a URL")));
            return None;
        }
        Some(t)
    };
    let token_url = url("oauth2.token_url", &oc.token_url);
    let authorize_url = match &oc.authorize_url {
        Some(a) => Some(url("oauth2.authorize_url", a)?),
        None => None,
    };
    let params = |what: &str, map: &IndexMap<String, String>, errors: &mut Vec<CatalogError>| {
        map.iter()
            .filter_map(|(k, v)| compile_template(file, text, what, v, errors).map(|t| (k.clone(), t)))
            .collect::<Vec<_>>()
    };
    let authorize_params = params("oauth2.authorize_params", &oc.authorize_params, errors);
    let token_params = params("oauth2.token_params", &oc.token_params, errors);
    Some(OAuth2 {
        authorize_url,
        token_url: token_url?,
        authorize_params,
        token_params,
    })
}

pub(super) fn compile_headers(
    file: &str,
    text: &str,
    headers: &IndexMap<String, String>,
    errors: &mut Vec<CatalogError>,
) -> Vec<(http::HeaderName, Template)> {
    let mut out = Vec::new();
    for (name, value) in headers {
        match http::HeaderName::from_bytes(name.as_bytes()) {
            Ok(h) => {
                if let Some(t) = compile_template(file, text, "header", value, errors) {
                    out.push((h, t));
                }
            }
            Err(_) => errors.push(err(
                file,
                find_line(text, name),
                format!("`{name}` is not a valid header name"),
            )),
        }
    }
    out
}

pub(super) fn compile_pagination(
    file: &str,
    text: &str,
    p: &PaginationConfig,
    errors: &mut Vec<CatalogError>,
) -> Option<Pagination> {
    let opt = |src: &Option<String>, errors: &mut Vec<CatalogError>| -> Result<Option<Expr>, ()> {
        match src {
            None => Ok(None),
            Some(s) => compile_expr(file, text, "pagination.has_more", s, errors)
                .map(Some)
                .ok_or(()),
        }
    };
    Some(match p {
        PaginationConfig::None => Pagination::None,
        PaginationConfig::LinkHeader { limit_param } => Pagination::LinkHeader {
            limit_param: limit_param.clone(),
        },
        PaginationConfig::Page {
            page_param,
            limit_param,
            start,
            has_more,
        } => Pagination::Page {
            page_param: page_param.clone(),
            limit_param: limit_param.clone(),
            start: *start,
            has_more: opt(has_more, errors).ok()?,
        },
        PaginationConfig::Offset {
            offset_param,
            limit_param,
            has_more,
        } => Pagination::Offset {
            offset_param: offset_param.clone(),
            limit_param: limit_param.clone(),
            has_more: opt(has_more, errors).ok()?,
        },
        PaginationConfig::Cursor {
            cursor_param,
            limit_param,
            next_cursor,
            add_to_body,
        } => {
            // In the body, each is a dotted path of keys: none of them may be empty.
            let bad_path = |p: &str| p.split('.').any(str::is_empty);
            if *add_to_body {
                for (key, path) in [
                    ("cursor_param", Some(cursor_param)),
                    ("limit_param", limit_param.as_ref()),
                ] {
                    if let Some(path) = path.filter(|p| bad_path(p)) {
                        errors.push(err(
                            file,
                            find_line(text, &format!("{key}: {path}")).or_else(|| find_line(text, key)),
                            format!("pagination.{key} `{path}` is not a dotted path of keys (add_to_body writes it into the body)"),
                        ));
                    }
                }
            }
            Pagination::Cursor {
                cursor_param: cursor_param.clone(),
                limit_param: limit_param.clone(),
                next_cursor: compile_expr(file, text, "pagination.next_cursor", next_cursor, errors)?,
                add_to_body: *add_to_body,
            }
        }
        PaginationConfig::NextUrl {
            limit_param,
            limit_header,
            next_url,
        } => {
            let limit_header = match limit_header {
                None => None,
                Some(h) => {
                    let name = http::HeaderName::from_bytes(h.name.as_bytes()).ok();
                    if name.is_none() {
                        errors.push(err(
                            file,
                            find_line(text, &h.name),
                            format!("`{}` is not a valid header name", h.name),
                        ));
                    }
                    let value = compile_template(file, text, "pagination.limit_header.value", &h.value, errors);
                    Some(name.zip(value)?)
                }
            };
            Pagination::NextUrl {
                limit_param: limit_param.clone(),
                limit_header,
                next_url: compile_expr(file, text, "pagination.next_url", next_url, errors)?,
            }
        }
        PaginationConfig::Range { range_unit, page_size } => {
            if !crate::pagination::range::is_unit(range_unit) {
                errors.push(err(
                    file,
                    find_line(text, "range_unit"),
                    format!("pagination.range_unit `{range_unit}` is not a range unit (a token such as `items`)"),
                ));
                return None;
            }
            if *page_size == 0 {
                errors.push(err(
                    file,
                    find_line(text, "page_size"),
                    "pagination.page_size must be at least 1".into(),
                ));
                return None;
            }
            Pagination::Range {
                unit: range_unit.clone(),
                page_size: *page_size,
            }
        }
        PaginationConfig::Dynamic {
            limit_param,
            get_initial_pagination_values_expression,
            get_pagination_values_expression,
        } => {
            let initial = match get_initial_pagination_values_expression {
                None => None,
                Some(src) => Some(compile_expr(
                    file,
                    text,
                    "pagination.get_initial_pagination_values_expression",
                    src,
                    errors,
                )?),
            };
            Pagination::Dynamic {
                limit_param: limit_param.clone(),
                initial,
                next: compile_expr(
                    file,
                    text,
                    "pagination.get_pagination_values_expression",
                    get_pagination_values_expression,
                    errors,
                )?,
            }
        }
    })
}

/// The budget, if its numbers make sense.
pub(super) fn check_budget(
    file: &str,
    text: &str,
    budget: &BudgetConfig,
    errors: &mut Vec<CatalogError>,
) -> Option<BudgetConfig> {
    let line = find_line(text, "budget");
    if budget.requests == 0 || budget.per_ms == 0 {
        errors.push(err(
            file,
            line,
            "rate_limit.budget needs `requests` and `per_ms` of at least 1".into(),
        ));
        return None;
    }
    if budget.per_ms > 31 * 24 * 3_600_000 {
        errors.push(err(
            file,
            line,
            "rate_limit.budget.per_ms is over 31 days; budget a shorter window".into(),
        ));
        return None;
    }
    Some(budget.clone())
}

/// A raw resource's own `base_url`: an absolute `https` URL without placeholders, on the
/// integration's host or one of its `allowed_hosts`, so a catalog cannot send an account's
/// credentials anywhere its integration does not name.
fn check_resource_base_url(
    file: &str,
    text: &str,
    key: &str,
    url: &str,
    config: &IntegrationConfig,
    errors: &mut Vec<CatalogError>,
) -> Option<url::Url> {
    // The line naming this URL as a `base_url` (the same text may appear in another key).
    let value_is = |l: &str| {
        l.split_once("base_url:").is_some_and(|(_, v)| {
            let v = v.trim();
            v.trim_matches(['"', '\'']) == url
                || v.starts_with(&format!("\"{url}\""))
                || v.starts_with(&format!("{url},"))
        })
    };
    let line = text
        .lines()
        .position(value_is)
        .map(|i| i + 1)
        .or_else(|| find_line(text, url));
    let mut refuse = |why: String| {
        errors.push(err(file, line, format!("resources.{key}.base_url {why}")));
        None
    };
    if url.contains("{{") {
        return refuse("cannot hold placeholders".into());
    }
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return refuse(format!("is not an absolute URL: {e}")),
    };
    if parsed.scheme() != "https" {
        return refuse(format!("must be an https URL, not `{}`", parsed.scheme()));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return refuse("cannot carry a query, a fragment or user info".into());
    }
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let integration_host = url::Url::parse(&config.base_url)
        .ok()
        .filter(|_| !config.base_url.contains("{{"))
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    // The patterns the calls check a rendered base URL against.
    let listed = crate::address_policy::host_allowed(&parsed, &config.allowed_hosts);
    if integration_host.as_deref() != Some(host.as_str()) && !listed {
        return refuse(format!(
            "is on `{host}`, which is neither the integration's base_url host nor in `allowed_hosts`"
        ));
    }
    Some(parsed)
}

pub(super) fn compile_integration(
    file: &str,
    text: &str,
    config: IntegrationConfig,
    errors: &mut Vec<CatalogError>,
) -> Option<Integration> {
    let before = errors.len();
    let base_url = compile_template(file, text, "base_url", &config.base_url, errors);
    if let Some(t) = &base_url {
        if t.is_static() {
            if let Err(e) = url::Url::parse(&config.base_url) {
                errors.push(err(
                    file,
                    find_line(text, "base_url"),
                    format!("base_url is not a URL: {e}"),
                ));
            }
        } else if config.allowed_hosts.is_empty() {
            errors.push(err(file, find_line(text, "base_url"), "a base_url with placeholders needs `allowed_hosts`, so an account's context cannot point requests at another host".into()));
        }
    }
    let headers = compile_headers(file, text, &config.headers, errors);
    let optional_headers = compile_headers(file, text, &config.optional_headers, errors);
    let authorization = match &config.authorization {
        AuthorizationConfig::Bearer { value } => {
            compile_template(file, text, "authorization.value", &format!("Bearer {value}"), errors).map(|value| {
                Authorization::Header {
                    name: http::header::AUTHORIZATION,
                    value,
                }
            })
        }
        AuthorizationConfig::Header { name, value } => match http::HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) => compile_template(file, text, "authorization.value", value, errors)
                .map(|value| Authorization::Header { name, value }),
            Err(_) => {
                errors.push(err(
                    file,
                    find_line(text, name),
                    format!("`{name}` is not a valid header name"),
                ));
                None
            }
        },
        AuthorizationConfig::Basic { username, password } => {
            let u = compile_template(file, text, "authorization.username", username, errors);
            let p = compile_template(file, text, "authorization.password", password, errors);
            u.zip(p)
                .map(|(username, password)| Authorization::Basic { username, password })
        }
        AuthorizationConfig::Digest { username, password } => {
            let u = compile_template(file, text, "authorization.username", username, errors);
            let p = compile_template(file, text, "authorization.password", password, errors);
            u.zip(p)
                .map(|(username, password)| Authorization::Digest { username, password })
        }
        AuthorizationConfig::Query { name, value } => {
            compile_template(file, text, "authorization.value", value, errors).map(|value| Authorization::Query {
                name: name.clone(),
                value,
            })
        }
    };
    let oauth2 = compile_oauth2(file, text, &config, errors);
    for field in &config.credentials.fields {
        if !field.secret && crate::crypto::looks_secret(&field.name) {
            errors.push(err(
                file,
                find_line(text, &format!("name: {}", field.name)),
                format!(
                    "credential field `{}` is named like a credential, so it is always sealed and never returned: remove `secret: false`",
                    field.name
                ),
            ));
        }
    }
    let error_message = config
        .error
        .as_ref()
        .and_then(|e| compile_expr(file, text, "error.message", &e.message, errors));
    let mut rate_limit = RateLimit::default();
    if let Some(rl) = &config.rate_limit {
        let mut c = |name: &str, src: &Option<String>| {
            src.as_ref()
                .and_then(|s| compile_expr(file, text, &format!("rate_limit.{name}"), s, errors))
        };
        let is_rate_limited = c("is_rate_limited", &rl.is_rate_limited);
        rate_limit = RateLimit {
            rate_limited_statuses: is_rate_limited.as_ref().and_then(|e| e.true_only_when("status")),
            is_rate_limited,
            retry_after: c("retry_after", &rl.retry_after),
            reset_at: c("reset_at", &rl.reset_at),
            limit: c("limit", &rl.limit),
            remaining: c("remaining", &rl.remaining),
            reset: c("reset", &rl.reset),
            budget: rl.budget.as_ref().and_then(|b| check_budget(file, text, b, errors)),
        };
    }
    let mut address_policy = crate::address_policy::AddressPolicy::default();
    for n in &config.allowed_private_networks {
        match n.parse() {
            Ok(network) => address_policy.allowed_private.push(network),
            Err(e) => errors.push(err(file, find_line(text, n), format!("allowed_private_networks: {e}"))),
        }
    }
    if let Some(r) = &config.retry {
        if r.max_attempts == Some(0) {
            errors.push(err(
                file,
                find_line(text, "max_attempts"),
                "retry.max_attempts must be at least 1".into(),
            ));
        }
    }
    let default_pagination = match &config.pagination {
        Some(p) => compile_pagination(file, text, p, errors),
        None => Some(Pagination::None),
    };

    let mut resources = hashbrown::HashMap::new();
    for (resource, methods) in &config.resources {
        for (method, rc) in methods {
            let key = format!("{resource}.{method}");
            let path = compile_template(file, text, &format!("resources.{key}.path"), &rc.path, errors);
            if !rc.path.starts_with('/') {
                errors.push(err(
                    file,
                    find_line(text, &rc.path),
                    format!("resources.{key}.path must start with `/`"),
                ));
            }
            let mut query = Vec::new();
            for (k, v) in &rc.query {
                if let Some(t) = compile_template(file, text, &format!("resources.{key}.query"), v, errors) {
                    query.push((k.clone(), t));
                }
            }
            let resource_base_url = rc
                .base_url
                .as_ref()
                .and_then(|u| check_resource_base_url(file, text, &key, u, &config, errors));
            let resource_headers = compile_headers(file, text, &rc.headers, errors);
            let response_path = rc
                .response_path
                .as_ref()
                .and_then(|s| compile_expr(file, text, &format!("resources.{key}.response_path"), s, errors));
            let pagination = match &rc.pagination {
                Some(p) => compile_pagination(file, text, p, errors),
                None => default_pagination.clone(),
            };
            if let (Some(path), Some(pagination)) = (path, pagination) {
                resources.insert(
                    key.clone(),
                    Arc::new(Resource {
                        key,
                        method: rc.method,
                        path,
                        base_url: resource_base_url,
                        query,
                        headers: resource_headers,
                        body: rc.body.clone(),
                        body_format: rc.body_format,
                        response_path,
                        pagination,
                    }),
                );
            }
        }
    }
    if let Some(v) = &config.credentials.validation {
        if v != "none" && !resources.contains_key(v) {
            errors.push(err(
                file,
                find_line(text, "validation:"),
                format!("credentials.validation names `{v}`, which is not in `resources`"),
            ));
        }
    }
    if errors.len() > before {
        return None;
    }
    let base_url = base_url?;
    let static_base_url = base_url
        .is_static()
        .then(|| {
            base_url
                .render(&Value::Null, crate::mapping::template::Encoding::Raw)
                .ok()
        })
        .flatten()
        .and_then(|u| url::Url::parse(&u).ok());
    Some(Integration {
        oauth2,
        rate_limit,
        address_policy,
        base_url,
        static_base_url,
        headers,
        optional_headers,
        authorization: authorization?,
        error_message,
        resources,
        unified: hashbrown::HashMap::new(),
        custom: hashbrown::HashMap::new(),
        config,
    })
}

pub(super) fn compile_mappings(
    file: &str,
    text: &str,
    category: &str,
    model: &Model,
    mappings: CategoryMappingsConfig,
    integration: &mut Integration,
    errors: &mut Vec<CatalogError>,
) {
    for (resource, methods) in mappings {
        let Some(model_resource) = model.resource(&resource) else {
            errors.push(err(
                file,
                find_line(text, &format!("{resource}:")),
                format!("the `{category}` model has no resource `{resource}`"),
            ));
            continue;
        };
        for (method_name, m) in methods {
            let standard = UnifiedMethod::parse(&method_name);
            let offered = match standard {
                Some(method) => model_resource.methods.contains(&method),
                None => model_resource.custom_methods.contains_key(&method_name),
            };
            if !offered {
                errors.push(err(
                    file,
                    find_line(text, &format!("{method_name}:")),
                    format!("the `{category}` model does not offer `{method_name}` on `{resource}`"),
                ));
                continue;
            }
            // A custom method runs as a `create` does (a POST with a body).
            let method = standard.unwrap_or(UnifiedMethod::Create);
            let lookup = |key: &str, errors: &mut Vec<CatalogError>| -> Option<Arc<Resource>> {
                let found = integration.resources.get(key).cloned();
                if found.is_none() {
                    errors.push(err(
                        file,
                        find_line(text, key),
                        format!(
                            "`{key}` is not a resource method of integration `{}`",
                            integration.config.name
                        ),
                    ));
                }
                found
            };
            let target = lookup(&m.resource, errors);
            let mut before = Vec::new();
            for step in &m.before {
                if let Some(r) = lookup(&step.resource, errors) {
                    before.push((step.name.clone(), r, step.optional));
                }
            }
            let mut resource_when = Vec::new();
            for (param, key) in &m.resource_when {
                if !m.query_params.contains_key(param) {
                    errors.push(err(
                        file,
                        find_line(text, param),
                        format!("{resource}.{method_name}: `resource_when` names `{param}`, which is not one of its `query_params`"),
                    ));
                }
                if let Some(r) = lookup(key, errors) {
                    resource_when.push((param.clone(), r));
                }
            }
            let what = format!("{resource}.{method_name}");
            let expr = |name: &str, src: &Option<String>, errors: &mut Vec<CatalogError>| -> Result<Option<Expr>, ()> {
                match src {
                    None => Ok(None),
                    Some(s) => compile_expr(file, text, &format!("{what}.{name}"), s, errors)
                        .map(Some)
                        .ok_or(()),
                }
            };
            let query_mapping = expr("query_mapping", &m.query_mapping, errors);
            let request_body_mapping = expr("request_body_mapping", &m.request_body_mapping, errors);
            let response_mapping = expr("response_mapping", &m.response_mapping, errors);
            if let (Some(resource_ref), Ok(query_mapping), Ok(request_body_mapping), Ok(response_mapping)) =
                (target, query_mapping, request_body_mapping, response_mapping)
            {
                if before.len() != m.before.len() || resource_when.len() != m.resource_when.len() {
                    continue;
                }
                if !m.unsupported_fields.is_empty() && !matches!(method, UnifiedMethod::Create | UnifiedMethod::Update)
                {
                    errors.push(err(
                        file,
                        find_line(text, "unsupported_fields"),
                        format!("{what}: `unsupported_fields` only applies to `create` and `update`"),
                    ));
                    continue;
                }
                if !check_list_params(file, text, &what, method, model_resource, &m, errors) {
                    continue;
                }
                let mapping = Arc::new(UnifiedMapping {
                    resource: resource_ref,
                    before,
                    query_mapping,
                    request_body_mapping,
                    response_mapping,
                    retry_on_conflict: m.retry_on_conflict.clone(),
                    unsupported_fields: m.unsupported_fields.clone(),
                    query_params: m.query_params.clone(),
                    provider_filters: m.filters.clone(),
                    partial: m.partial,
                    resource_when,
                });
                match standard {
                    Some(method) => integration
                        .unified
                        .insert((category.to_string(), resource.clone(), method), mapping),
                    None => integration
                        .custom
                        .insert((category.to_string(), resource.clone(), method_name.clone()), mapping),
                };
            }
        }
    }
}

/// Whether a mapping's `query_params`, `filters` and `partial` make sense: filters the model
/// declares, on a `list`; parameters that do not shadow a filter or one of Unigate's own.
fn check_list_params(
    file: &str,
    text: &str,
    what: &str,
    method: UnifiedMethod,
    model_resource: &ModelResourceConfig,
    m: &UnifiedMappingConfig,
    errors: &mut Vec<CatalogError>,
) -> bool {
    let before = errors.len();
    let is_list = method == UnifiedMethod::List;
    if !is_list && (!m.filters.is_empty() || m.partial) {
        errors.push(err(
            file,
            find_line(text, "filters").or_else(|| find_line(text, "partial")),
            format!("{what}: `filters` and `partial` only apply to `list`"),
        ));
    }
    for f in &m.filters {
        if !model_resource.filters.contains_key(f) {
            let known: Vec<&str> = model_resource.filters.keys().map(String::as_str).collect();
            errors.push(err(
                file,
                find_line(text, f),
                format!("{what}: the model has no filter `{f}` (it has: {})", known.join(", ")),
            ));
        }
    }
    for (name, param) in &m.query_params {
        if param.required && param.example.is_none() {
            errors.push(err(
                file,
                find_line(text, name),
                format!(
                    "{what}: the required query parameter `{name}` needs an `example` (the sandbox's calls use it)"
                ),
            ));
        }
        if model_resource.filters.contains_key(name) || crate::query_pairs::is_own_parameter(name) {
            errors.push(err(
                file,
                find_line(text, name),
                format!("{what}: query parameter `{name}` is already a filter or one of Unigate's own"),
            ));
        }
    }
    errors.len() == before
}
