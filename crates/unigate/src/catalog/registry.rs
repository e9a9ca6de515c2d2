//! The immutable [`Registry`] a catalog compiles into (`compile.rs` does the compiling),
//! and the compiled types a call reads: [`Integration`], [`Resource`],
//! [`UnifiedMapping`], [`Model`].
//!
//! Every problem found is collected (not just the first), each with its file and, where
//! it can be found, its line, so `unigate validate` reports a broken catalog in one run.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::types::*;
use crate::mapping::template::Template;
use crate::mapping::Expr;
use crate::pagination::Pagination;

/// One catalog problem.
#[derive(Debug, Clone)]
pub struct CatalogError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// A compiled unified model.
#[derive(Debug)]
pub struct Model {
    pub config: ModelConfig,
}

impl Model {
    pub fn resource(&self, name: &str) -> Option<&ModelResourceConfig> {
        self.config.resources.get(name)
    }
}

/// A compiled raw resource method: everything needed to build one provider request.
#[derive(Debug)]
pub struct Resource {
    /// `resource.method`, for messages.
    pub key: String,
    pub method: HttpMethod,
    pub path: Template,
    /// The call's own base URL (`base_url` of the raw resource), checked when compiled.
    pub base_url: Option<url::Url>,
    pub query: Vec<(String, Template)>,
    pub headers: Vec<(http::HeaderName, Template)>,
    pub body: Option<Value>,
    pub body_format: BodyFormat,
    pub response_path: Option<Expr>,
    pub pagination: Pagination,
}

/// How one unified method runs on one integration.
#[derive(Debug, Clone)]
pub struct UnifiedMapping {
    pub resource: Arc<Resource>,
    /// `(name, resource, optional)`.
    pub before: Vec<(String, Arc<Resource>, bool)>,
    pub query_mapping: Option<Expr>,
    pub request_body_mapping: Option<Expr>,
    pub response_mapping: Option<Expr>,
    pub retry_on_conflict: Option<ConflictRetryConfig>,
    /// Unified body fields the provider cannot write (refused with a 422).
    pub unsupported_fields: Vec<String>,
    /// Integration-specific query parameters ([`UnifiedMappingConfig::query_params`]).
    pub query_params: IndexMap<String, QueryParamConfig>,
    /// The model's filters the provider applies ([`UnifiedMappingConfig::filters`]).
    pub provider_filters: Vec<String>,
    /// The list gives fewer fields than `get` (`is_partial_response`).
    pub partial: bool,
    /// `(query parameter, resource)`: the resource to call instead when the parameter is
    /// given ([`UnifiedMappingConfig::resource_when`]).
    pub resource_when: Vec<(String, Arc<Resource>)>,
}

impl UnifiedMapping {
    /// `&name=example` for each required query parameter: what a call needs beyond the
    /// account against the integration's emulator (the sandbox's curl lines, tests).
    pub fn required_query_example(&self) -> String {
        self.query_params
            .iter()
            .filter(|(_, p)| p.required)
            .map(|(k, p)| format!("&{k}={}", p.example.as_deref().unwrap_or_default()))
            .collect()
    }

    /// A mapping of the raw resource alone (the Proxy API's).
    pub fn raw(resource: Arc<Resource>) -> UnifiedMapping {
        UnifiedMapping {
            resource,
            before: Vec::new(),
            query_mapping: None,
            request_body_mapping: None,
            response_mapping: None,
            retry_on_conflict: None,
            unsupported_fields: Vec::new(),
            query_params: IndexMap::new(),
            provider_filters: Vec::new(),
            partial: false,
            resource_when: Vec::new(),
        }
    }
}

/// How credentials are put on the wire.
#[derive(Debug)]
pub enum Authorization {
    Header {
        name: http::HeaderName,
        value: Template,
    },
    Basic {
        username: Template,
        password: Template,
    },
    Query {
        name: String,
        value: Template,
    },
    /// HTTP Digest: rendered per request, used to answer the provider's challenge.
    Digest {
        username: Template,
        password: Template,
    },
}

/// Compiled [`OAuth2Config`]: URL and parameter templates over `{context}`.
#[derive(Debug)]
pub struct OAuth2 {
    pub authorize_url: Option<Template>,
    pub token_url: Template,
    pub authorize_params: Vec<(String, Template)>,
    pub token_params: Vec<(String, Template)>,
}

/// Compiled [`RateLimitConfig`].
#[derive(Debug, Default)]
pub struct RateLimit {
    pub is_rate_limited: Option<Expr>,
    /// The statuses for which `is_rate_limited` can be true, when its shape says so
    /// (`status = 429 or (status = 403 and ...)`): any other answer is not evaluated.
    pub rate_limited_statuses: Option<Vec<f64>>,
    pub retry_after: Option<Expr>,
    pub reset_at: Option<Expr>,
    pub limit: Option<Expr>,
    pub remaining: Option<Expr>,
    pub reset: Option<Expr>,
    /// The proactive per-account budget, validated.
    pub budget: Option<BudgetConfig>,
}

/// A compiled integration.
#[derive(Debug)]
pub struct Integration {
    pub rate_limit: RateLimit,
    pub config: IntegrationConfig,
    pub base_url: Template,
    /// `base_url` parsed, when it has no placeholder (most integrations).
    pub static_base_url: Option<url::Url>,
    pub headers: Vec<(http::HeaderName, Template)>,
    pub optional_headers: Vec<(http::HeaderName, Template)>,
    pub authorization: Authorization,
    pub oauth2: Option<OAuth2>,
    /// Which addresses its URLs may reach (public ones, plus `allowed_private_networks`).
    pub address_policy: crate::address_policy::AddressPolicy,
    pub error_message: Option<Expr>,
    pub resources: hashbrown::HashMap<String, Arc<Resource>>,
    /// `(category, resource, method)` to mapping.
    pub unified: hashbrown::HashMap<(String, String, UnifiedMethod), Arc<UnifiedMapping>>,
    /// `(category, resource, custom method)` to mapping.
    pub custom: hashbrown::HashMap<(String, String, String), Arc<UnifiedMapping>>,
}

/// A `(category, resource, method)` key of [`Integration::unified`] or
/// [`Integration::custom`] in borrowed parts: looked up without building the owned key. It
/// hashes as the owned tuple does (field by field, `str` as `String`).
#[derive(Hash)]
struct Key<'a, M>(&'a str, &'a str, M);

impl hashbrown::Equivalent<(String, String, UnifiedMethod)> for Key<'_, UnifiedMethod> {
    fn equivalent(&self, key: &(String, String, UnifiedMethod)) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2
    }
}

impl hashbrown::Equivalent<(String, String, String)> for Key<'_, &str> {
    fn equivalent(&self, key: &(String, String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2
    }
}

impl Integration {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn unified(&self, category: &str, resource: &str, method: UnifiedMethod) -> Option<&Arc<UnifiedMapping>> {
        self.unified.get(&Key(category, resource, method))
    }

    /// The unified methods this integration supports for a resource, in canonical order.
    pub fn unified_methods(&self, category: &str, resource: &str) -> Vec<UnifiedMethod> {
        UnifiedMethod::ALL
            .into_iter()
            .filter(|m| self.unified(category, resource, *m).is_some())
            .collect()
    }

    /// The mapping of a standard method (`get`) or a custom one (`add-user`), by name.
    pub fn unified_or_custom(&self, category: &str, resource: &str, method: &str) -> Option<&Arc<UnifiedMapping>> {
        match UnifiedMethod::parse(method) {
            Some(m) => self.unified(category, resource, m),
            None => self.custom(category, resource, method),
        }
    }

    pub fn custom(&self, category: &str, resource: &str, method: &str) -> Option<&Arc<UnifiedMapping>> {
        self.custom.get(&Key(category, resource, method))
    }

    /// The custom methods this integration supports for a resource, sorted.
    pub fn custom_methods(&self, category: &str, resource: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .custom
            .keys()
            .filter(|(c, r, _)| c == category && r == resource)
            .map(|(_, _, m)| m.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// Names of the credential fields that are secret.
    pub fn secret_fields(&self) -> impl Iterator<Item = &str> {
        self.config
            .credentials
            .fields
            .iter()
            .filter(|f| f.secret)
            .map(|f| f.name.as_str())
    }
}

/// The whole compiled catalog.
#[derive(Debug, Default)]
pub struct Registry {
    pub models: IndexMap<String, Model>,
    pub integrations: IndexMap<String, Arc<Integration>>,
    /// Emulator definitions by integration name (sources; the emulator crate parses them).
    pub emulators: IndexMap<String, String>,
}

impl Registry {
    pub fn model(&self, category: &str) -> Option<&Model> {
        self.models.get(category)
    }

    pub fn integration(&self, name: &str) -> Option<&Arc<Integration>> {
        self.integrations.get(name)
    }
}
