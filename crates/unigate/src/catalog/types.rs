//! The definition format: plain serde structs, exactly what the YAML files say.
//!
//! Every struct denies unknown keys, so a typo in a definition is an error at load time
//! rather than a silently ignored setting. Nothing here is compiled or checked across
//! files: that is [`super::registry`]'s job.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

/// `catalog/models/<category>.yaml`: one unified model (a category of resources).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The category as it appears in the URL, e.g. `user-directory`.
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub description: Option<String>,
    pub resources: IndexMap<String, ModelResourceConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelResourceConfig {
    pub description: String,
    /// The unified methods this resource may offer (`list`, `get`, `create`, `update`, `delete`).
    pub methods: Vec<UnifiedMethod>,
    /// JSON Schema of one unified record.
    pub schema: Value,
}

/// A unified method, the verb of the unified API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnifiedMethod {
    List,
    Get,
    Create,
    Update,
    Delete,
}

impl UnifiedMethod {
    pub const ALL: [UnifiedMethod; 5] = [
        UnifiedMethod::List,
        UnifiedMethod::Get,
        UnifiedMethod::Create,
        UnifiedMethod::Update,
        UnifiedMethod::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnifiedMethod::List => "list",
            UnifiedMethod::Get => "get",
            UnifiedMethod::Create => "create",
            UnifiedMethod::Update => "update",
            UnifiedMethod::Delete => "delete",
        }
    }
}

impl std::fmt::Display for UnifiedMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `catalog/integrations/<name>/integration.yaml`: how to talk to one provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    pub name: String,
    pub label: String,
    /// Free text shown by `GET /integration/{name}`: quirks, what the unified id means, ...
    #[serde(default)]
    pub docs: Option<String>,
    /// May hold `{{context.x}}` placeholders (per-customer hosts). The rendered URL must
    /// land on one of `allowed_hosts` (or on the host of this URL when it has no placeholder).
    pub base_url: String,
    /// Host patterns a rendered `base_url` may resolve to; `*.example.com` matches subdomains.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Headers sent on every request; values are templates.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Headers sent only when every value their template names is present in the account
    /// context (e.g. JumpCloud's `x-org-id` for multi-tenant admins).
    #[serde(default)]
    pub optional_headers: IndexMap<String, String>,
    pub credentials: CredentialsConfig,
    pub authorization: AuthorizationConfig,
    /// Default pagination for `list` resources; a resource may override it.
    #[serde(default)]
    pub pagination: Option<PaginationConfig>,
    /// How to read a provider error.
    #[serde(default)]
    pub error: Option<ErrorConfig>,
    /// How the provider signals rate limiting (Truto's field names).
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// Per-request timeout for this provider, overriding `upstream.request_timeout_ms`.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Values an account's context falls back to (e.g. a default region host).
    #[serde(default)]
    pub context_defaults: serde_json::Map<String, Value>,
    /// Raw provider resources: `resources.<resource>.<method>`.
    pub resources: IndexMap<String, IndexMap<String, ResourceMethodConfig>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsConfig {
    pub format: CredentialFormat,
    /// The fields an account's context must carry for this format.
    #[serde(default)]
    pub fields: Vec<CredentialField>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialFormat {
    ApiKey,
    Oauth2,
    Oauth2ClientCredentials,
    Basic,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialField {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub help: Option<String>,
    /// Secret fields are encrypted at rest and never returned.
    #[serde(default = "yes")]
    pub secret: bool,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// How the credentials go on the wire. Values are templates over `context`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthorizationConfig {
    /// `Authorization: Bearer <value>`.
    Bearer { value: String },
    /// Any header, any value: `Authorization: Token {{context.api_token}}`.
    Header { name: String, value: String },
    /// HTTP Basic.
    Basic { username: String, password: String },
    /// A query parameter.
    Query { name: String, value: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_reqwest(self) -> reqwest::Method {
        match self {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        }
    }
}

/// One raw provider call: `resources.organizations.get`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceMethodConfig {
    pub method: HttpMethod,
    /// Path template below `base_url`; `{{id}}` and `{{context.x}}` are rendered and
    /// percent-encoded as one path segment each, so an id can never change the path.
    pub path: String,
    /// Fixed query parameters (templates).
    #[serde(default)]
    pub query: IndexMap<String, String>,
    /// Headers for this call only; templates over `{id, context, before}` (e.g. a
    /// version header read by a `before` step: `"{{before.current.sys.version}}"`).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// A fixed JSON body, for providers that need one (e.g. `POST .../query` with `{}`).
    #[serde(default)]
    pub body: Option<Value>,
    /// How the request body is encoded: `json` (default) or `form`
    /// (`application/x-www-form-urlencoded`; nested values in bracket notation).
    #[serde(default)]
    pub body_format: BodyFormat,
    /// JSONata over `{response, headers, id}` selecting the record (or, for lists, the array
    /// of records) inside the provider's answer, e.g. `response.organization`. Nothing
    /// selected on a `get` is a 404: so a provider without get-by-id can list and pick
    /// (`response.teams[id = $$.id]`), and a "me" endpoint can check the id
    /// (`$string(response.data.company_id) = id ? response.data`).
    #[serde(default)]
    pub response_path: Option<String>,
    /// Overrides the integration's pagination for this resource.
    #[serde(default)]
    pub pagination: Option<PaginationConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    #[default]
    Json,
    Form,
}

/// Provider pagination, normalized into Unigate's opaque signed `next_cursor`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case", deny_unknown_fields)]
pub enum PaginationConfig {
    /// No pagination: one call returns everything.
    None,
    /// Follow the RFC 8288 `Link` header's `rel="next"` URL.
    LinkHeader {
        #[serde(default)]
        limit_param: Option<String>,
    },
    /// Page numbers.
    Page {
        page_param: String,
        #[serde(default)]
        limit_param: Option<String>,
        /// The first page's number (0 or 1).
        #[serde(default = "one")]
        start: u64,
        /// JSONata over `{response, headers, records}`; true when another page exists.
        /// Without it, a page as long as the limit is taken to have a successor.
        #[serde(default)]
        has_more: Option<String>,
    },
    /// Offset and limit.
    Offset {
        offset_param: String,
        #[serde(default)]
        limit_param: Option<String>,
        #[serde(default)]
        has_more: Option<String>,
    },
    /// A full next-page URL read from the answer body (`@odata.nextLink`,
    /// `paging.next`); it must stay on the integration's host.
    NextUrl {
        #[serde(default)]
        limit_param: Option<String>,
        /// JSONata over `{response, headers}` giving the next URL (empty/null = end).
        next_url: String,
    },
    /// An opaque provider cursor read from the answer.
    Cursor {
        cursor_param: String,
        #[serde(default)]
        limit_param: Option<String>,
        /// JSONata over `{response, headers}` giving the next cursor (empty/null = end).
        next_cursor: String,
    },
}

fn one() -> u64 {
    1
}

/// JSONata expressions over `{status, headers}` (header names lowercase).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// True when the answer means "rate limited". Default: `status = 429`.
    #[serde(default)]
    pub is_rate_limited: Option<String>,
    /// Seconds to wait before retrying. Default: the `Retry-After` header.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// Unix time (seconds) when the window resets; used when `retry_after` gives nothing.
    #[serde(default)]
    pub reset_at: Option<String>,
    /// Sources of the normalized `ratelimit-limit`, `ratelimit-remaining` and
    /// `ratelimit-reset` (seconds until reset) response headers.
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub remaining: Option<String>,
    #[serde(default)]
    pub reset: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorConfig {
    /// JSONata over `{status, headers, response}` giving the provider's error message.
    pub message: String,
}

/// `catalog/integrations/<name>/<category>.yaml`: `resource -> method -> mapping`.
pub type CategoryMappingsConfig = IndexMap<String, IndexMap<UnifiedMethod, UnifiedMappingConfig>>;

/// How one unified method maps onto the provider, as JSONata expressions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnifiedMappingConfig {
    /// The raw resource to call, `resource.method` in `integration.yaml`.
    pub resource: String,
    /// Calls made first (on `get`, `create`, `update` and `delete`; not per record of a
    /// `list`); each selected record is bound as `before.<name>` for the mappings and for
    /// the path templates. Used for read-modify-write and for side loads (a plan or licenses
    /// on a second endpoint).
    #[serde(default)]
    pub before: Vec<BeforeStepConfig>,
    /// JSONata giving an object of provider query parameters.
    #[serde(default)]
    pub query_mapping: Option<String>,
    /// JSONata giving the provider request body.
    #[serde(default)]
    pub request_body_mapping: Option<String>,
    /// JSONata giving one unified record from `response` (one provider record).
    #[serde(default)]
    pub response_mapping: Option<String>,
    /// Re-run `before` and the write when the provider answers one of these statuses
    /// (an optimistic-concurrency conflict), up to `max_attempts` in all.
    #[serde(default)]
    pub retry_on_conflict: Option<ConflictRetryConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeforeStepConfig {
    /// Bound as `before.<name>`.
    pub name: String,
    /// `resource.method` in `integration.yaml`; `{{id}}` is the unified id.
    pub resource: String,
    /// A side load that may fail (a plan endpoint the token cannot read, an id the main
    /// call will reject anyway): its failure leaves `before.<name>` absent instead of
    /// failing the call.
    #[serde(default)]
    pub optional: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConflictRetryConfig {
    pub statuses: Vec<u16>,
    pub max_attempts: u32,
}
