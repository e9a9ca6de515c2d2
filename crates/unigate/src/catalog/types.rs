//! The definition format: plain serde structs, exactly what the YAML files say.
//!
//! Every struct denies unknown keys, so a typo in a definition is an error at load time
//! rather than a silently ignored setting. Nothing here is compiled or checked across
//! files: that is [`super::registry`]'s job.
//!
//! `docs/catalog.md` is the reference of this format for people writing catalog files; a
//! test (`tests/api/catalog_doc.rs`) fails when a key here is missing from it. Units are in
//! the key names (`_ms`: milliseconds), except the provider's own rate-limit values
//! ([`RateLimitConfig`]).

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

/// `catalog/models/<category>.yaml`: one unified model (a category of resources).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The category as it appears in the URL, e.g. `user-directory`; equals the file name.
    pub name: String,
    /// Display name.
    pub label: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The unified resources, by the name in the URL (`users`).
    pub resources: IndexMap<String, ModelResourceConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelResourceConfig {
    /// Free text.
    pub description: String,
    /// The unified methods this resource may offer (`list`, `get`, `create`, `update`, `delete`).
    pub methods: Vec<UnifiedMethod>,
    /// JSON Schema of one unified record: what `normalized` keeps, and what `unigate
    /// validate` checks mappings against.
    pub schema: Value,
    /// The `list` filters every integration takes for this resource, by query parameter
    /// name ([`FilterConfig`]).
    #[serde(default)]
    pub filters: IndexMap<String, FilterConfig>,
    /// Methods beyond the five, `POST /unified/<model>/<resource>/<name>` (Truto's custom
    /// unified methods, e.g. a group's `add-user`), by name.
    #[serde(default)]
    pub custom_methods: IndexMap<String, CustomMethodConfig>,
}

/// A custom unified method: a `POST` with a JSON body, mapped per integration like a
/// `create` (its mapping sits beside the standard methods under its name).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CustomMethodConfig {
    /// Free text.
    pub description: String,
    /// JSON Schema of the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// A unified list filter: a query parameter that narrows a list to the records whose
/// field matches. Integrations map it to the provider's own filter where they can
/// (`filters` of a mapping); Unigate applies it to the mapped records otherwise.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// `type` in YAML: `string` or `date_time`.
    #[serde(rename = "type")]
    pub kind: FilterKind,
    /// The record's field it reads, dotted through objects and arrays (`emails.email`:
    /// any of the user's email addresses); the filter's own name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Free text, shown by `GET /integration/{name}`.
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    /// `name=value`: the field equals the value, ignoring case.
    String,
    /// `name[gt]=`, `[gte]`, `[lt]`, `[lte]` with an RFC 3339 time or a date
    /// (`2024-05-01`, midnight UTC): the field's time compares so.
    DateTime,
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
    /// The standard method of this name.
    pub fn parse(name: &str) -> Option<UnifiedMethod> {
        UnifiedMethod::ALL.into_iter().find(|m| m.as_str() == name)
    }

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
    /// The integration's name in URLs and APIs; equals its folder's name.
    pub name: String,
    /// Display name.
    pub label: String,
    /// Free text shown by `GET /integration/{name}`: quirks, what the unified id means, ...
    #[serde(default)]
    pub docs: Option<String>,
    /// May hold `{{context.x}}` placeholders (per-customer hosts). The rendered URL must
    /// land on one of `allowed_hosts` (or on the host of this URL when it has no placeholder).
    pub base_url: String,
    /// Host patterns a rendered `base_url` may resolve to, and a raw resource's own
    /// `base_url` may name; `*.example.com` matches subdomains.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Private networks (CIDR blocks such as `10.0.0.0/8`, or single addresses) this
    /// integration may reach. Unigate never connects to private, loopback, link-local or
    /// reserved addresses otherwise, whatever a URL's host resolves to (an on-premises
    /// provider declares its network here).
    #[serde(default)]
    pub allowed_private_networks: Vec<String>,
    /// Headers sent on every request; values are templates over `context`.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Headers sent only when every value their template names is present in the account
    /// context (e.g. JumpCloud's `x-org-id` for multi-tenant admins).
    #[serde(default)]
    pub optional_headers: IndexMap<String, String>,
    pub credentials: CredentialsConfig,
    pub authorization: AuthorizationConfig,
    /// Default pagination for `list` resources (absent: `none`); a resource may override it.
    #[serde(default)]
    pub pagination: Option<PaginationConfig>,
    /// How to read a provider error (an answer of status 400 or more).
    #[serde(default)]
    pub error: Option<ErrorConfig>,
    /// How the provider signals rate limiting (Truto's field names).
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// Per-request timeout for this provider in milliseconds, overriding
    /// `upstream.request_timeout_ms`.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Retries for this provider, overriding `upstream.retry`.
    #[serde(default)]
    pub retry: Option<IntegrationRetryConfig>,
    /// Values an account's context falls back to (e.g. a default region host); mappings and
    /// templates see them in `context`.
    #[serde(default)]
    pub context_defaults: serde_json::Map<String, Value>,
    /// Raw provider resources: `resources.<resource>.<method>`.
    pub resources: IndexMap<String, IndexMap<String, ResourceMethodConfig>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsConfig {
    /// `api_key`, `oauth2`, `oauth2_client_credentials` or `basic`.
    pub format: CredentialFormat,
    /// The fields an account's context must carry for this format. For `oauth2` these are
    /// what an imported account supplies (`access_token`, optionally `refresh_token` and
    /// `expires_at`); the connect flow fills them itself.
    #[serde(default)]
    pub fields: Vec<CredentialField>,
    /// The provider's OAuth2 endpoints, for `oauth2` and `oauth2_client_credentials`.
    #[serde(default)]
    pub oauth2: Option<OAuth2Config>,
    /// A raw resource method (`organizations.list`) run after connecting an account through
    /// the connect flow, to check its credentials (an imported account is not checked):
    /// success marks the account `active`, failure `validation_error`.
    /// Absent: [`DEFAULT_VALIDATION`] (no check when the integration has no such resource);
    /// `none`: no check.
    #[serde(default)]
    pub validation: Option<String>,
}

/// The validation request of an integration that declares none.
pub const DEFAULT_VALIDATION: &str = "organizations.list";

/// An OAuth2 authorization server. URLs and parameter values are templates over `context`
/// (Auth0's token URL is on the tenant's own domain) and must stay on the integration's
/// hosts.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Config {
    /// The consent page (authorization-code flow).
    #[serde(default)]
    pub authorize_url: Option<String>,
    /// The token endpoint.
    pub token_url: String,
    /// Scopes asked for.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// How scopes are joined; default one space.
    #[serde(default = "space")]
    pub scope_separator: String,
    /// Send a PKCE `code_challenge` (S256) with the authorization request.
    #[serde(default)]
    pub pkce: bool,
    /// How the client authenticates at the token endpoint: `body` (client_secret_post) or
    /// `basic` (client_secret_basic).
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// Extra authorization-request parameters (Google: `access_type: offline`).
    #[serde(default)]
    pub authorize_params: IndexMap<String, String>,
    /// Extra token-request parameters (Auth0 client credentials: `audience`).
    #[serde(default)]
    pub token_params: IndexMap<String, String>,
    /// Token-endpoint error codes meaning the grant is dead and a person must reconnect
    /// (default `invalid_grant`; GitHub says `bad_refresh_token`).
    #[serde(default = "invalid_grant")]
    pub reauth_errors: Vec<String>,
    /// Fields of the token answer kept in the account's context (Salesforce's
    /// `instance_url`, Zoho's `api_domain`).
    #[serde(default)]
    pub context_fields: Vec<String>,
}

fn space() -> String {
    " ".into()
}

fn invalid_grant() -> Vec<String> {
    vec!["invalid_grant".into()]
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    #[default]
    Body,
    Basic,
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
    /// The context key, read by templates as `context.<name>`.
    pub name: String,
    /// Shown on the connect page and by `GET /integration/{name}`.
    #[serde(default)]
    pub label: Option<String>,
    /// Where to find the value.
    #[serde(default)]
    pub help: Option<String>,
    /// Secret fields (the default) are encrypted at rest, never returned, and not in the
    /// `context` mappings see (templates do see them).
    #[serde(default = "yes")]
    pub secret: bool,
    /// An account without it (or with it empty) is refused; default true.
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
    /// HTTP Digest access authentication (RFC 7616, RFC 2617; MD5 or SHA-256, `qop=auth`):
    /// the request goes out without credentials, and the provider's `401` challenge is
    /// answered once (MongoDB Atlas API keys).
    Digest { username: String, password: String },
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
    pub fn as_http(self) -> http::Method {
        match self {
            HttpMethod::Get => http::Method::GET,
            HttpMethod::Post => http::Method::POST,
            HttpMethod::Put => http::Method::PUT,
            HttpMethod::Patch => http::Method::PATCH,
            HttpMethod::Delete => http::Method::DELETE,
        }
    }
}

/// One raw provider call: `resources.organizations.get`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceMethodConfig {
    /// `get`, `post`, `put`, `patch` or `delete`.
    pub method: HttpMethod,
    /// This call's own base URL, used instead of the integration's `base_url` (a provider
    /// API on another host, such as JumpCloud's Directory Insights on `api.jumpcloud.com`).
    /// An absolute `https` URL without placeholders, on the integration's host or one of its
    /// `allowed_hosts`; the operator's `base_url_overrides` and the address checks apply to
    /// it as to the integration's, and credentials go on it the same way.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Path template below `base_url`, over `{id, query, body, context, before}`; each
    /// placeholder is rendered and percent-encoded as one path segment, so an id can never
    /// change the path.
    pub path: String,
    /// Fixed query parameters (templates, over the same scope as `path`).
    #[serde(default)]
    pub query: IndexMap<String, String>,
    /// Headers for this call only, replacing the integration's of the same name; templates
    /// over the same scope as `path` (e.g. a
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
        /// The provider's page-size parameter: the client's `limit` is sent in it (in every
        /// format that has one; without it, `limit` does not reach the provider).
        #[serde(default)]
        limit_param: Option<String>,
    },
    /// Page numbers.
    Page {
        /// The page-number parameter.
        page_param: String,
        #[serde(default)]
        limit_param: Option<String>,
        /// The first page's number (0 or 1).
        #[serde(default = "one")]
        start: u64,
        /// JSONata over `{response, headers, records}` (`records`: how many records this
        /// page held); true when another page exists. Without it, a page as long as the
        /// client's limit (without a limit: any page not empty) is taken to have a successor.
        #[serde(default)]
        has_more: Option<String>,
    },
    /// Offset and limit.
    Offset {
        /// The offset parameter; the next offset is this one plus the page's records.
        offset_param: String,
        #[serde(default)]
        limit_param: Option<String>,
        /// As `page`'s `has_more`.
        #[serde(default)]
        has_more: Option<String>,
    },
    /// A full next-page URL read from the answer body (`@odata.nextLink`,
    /// `paging.next`); it must stay on the integration's host.
    NextUrl {
        #[serde(default)]
        limit_param: Option<String>,
        /// For providers that take the page size in a header: sent on every page request
        /// (the next URLs included) when the client asks for a `limit`, e.g. OData's
        /// `{ name: Prefer, value: "odata.maxpagesize={{limit}}" }`.
        #[serde(default)]
        limit_header: Option<LimitHeaderConfig>,
        /// JSONata over `{response, headers}` giving the next URL (empty/null = end).
        next_url: String,
    },
    /// An opaque provider cursor read from the answer.
    Cursor {
        /// The parameter the cursor is sent in (with `add_to_body`, a dotted path into the
        /// JSON request body: `page.after`).
        cursor_param: String,
        #[serde(default)]
        limit_param: Option<String>,
        /// JSONata over `{response, headers}` giving the next cursor, a string or a number
        /// (empty/null = end); with `add_to_body`, any JSON value (an array such as
        /// Elasticsearch's `search_after`), sent back as it was read.
        next_cursor: String,
        /// Truto's `add_to_body`: the cursor and the page size (`limit_param`) go into the
        /// JSON request body, at their dotted paths, instead of the query string. Default
        /// false.
        #[serde(default)]
        add_to_body: bool,
    },
    /// The HTTP `Range` header (Truto's `range`): each page is asked for as
    /// `Range: items=0-49`, the provider answers `206` with `Content-Range: items 0-49/200`
    /// (or `/*` when the total is unknown). The client's `limit` is the range's size.
    Range {
        /// The range unit. Default `items`.
        #[serde(default = "items")]
        range_unit: String,
        /// Positions asked for per page when the client gives no `limit`. Default 100.
        #[serde(default = "hundred")]
        page_size: u64,
    },
    /// Anything else, in JSONata (Truto's `dynamic`). Expressions see `response` (the
    /// body), `headers`, `query` (the unified query), `limit`, `records` (how many this
    /// page held), `url` (of this page) and `paginationValues` (what the previous page's
    /// expression gave; on the first page, the initial values).
    Dynamic {
        #[serde(default)]
        limit_param: Option<String>,
        /// JSONata over `{query, limit}` giving the first page's values: an object of query
        /// parameters. Default: none.
        #[serde(default)]
        get_initial_pagination_values_expression: Option<String>,
        /// The next page: an object of query parameters (merged over the resource's query),
        /// a string (the next page's full URL, which must stay on the integration's host),
        /// or null/absent to stop.
        get_pagination_values_expression: String,
    },
}

fn one() -> u64 {
    1
}

fn items() -> String {
    "items".into()
}

fn hundred() -> u64 {
    100
}

/// Per-integration retry settings; unset ones come from `upstream.retry`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationRetryConfig {
    /// Attempts in all, the first included (1 disables retries).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Total time for a call's retries, from its first attempt, in milliseconds.
    #[serde(default)]
    pub max_total_ms: Option<u64>,
}

/// A proactive per-account request budget: Unigate spaces an account's calls so that no
/// window of `per_ms` holds more than `requests`, across all instances sharing the store,
/// instead of finding the limit with 429s.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Calls per window, at least 1.
    pub requests: u32,
    /// The window in milliseconds, at least 1 and at most 31 days.
    pub per_ms: u64,
    /// The longest a call waits for the budget before a 429 (never sent), in milliseconds;
    /// default `upstream.budget_max_wait_ms`.
    #[serde(default)]
    pub max_wait_ms: Option<u64>,
}

/// A header carrying the page size; `value` is a template over `{limit}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitHeaderConfig {
    /// The header's name (`Prefer`).
    pub name: String,
    /// Template over `{limit}`: `"odata.maxpagesize={{limit}}"`.
    pub value: String,
}

/// JSONata expressions over `{status, headers}` (header names lowercase).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// True when the answer means "rate limited". Default: `status = 429`. May also read the
    /// error body as `response` where it has been read (Google's 403); the automatic retry
    /// decides before reading it, so there such a rule sees no `response`.
    #[serde(default)]
    pub is_rate_limited: Option<String>,
    /// Seconds to wait before retrying (a number, or a numeric string). Default: the
    /// `Retry-After` header (delay seconds or an HTTP date). A value over ten years is
    /// ignored as garbage.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// When the window resets; used when `retry_after` gives nothing. The unit is told by
    /// size: a Unix time in milliseconds (above 10^11), a Unix time in seconds (above
    /// 10^9), else seconds until the reset. When nothing gives a wait, a rate-limited
    /// answer is retried after the exponential backoff of `upstream.retry`
    /// (`base_delay_ms`, doubling up to `max_delay_ms`, within `max_total_ms`), then
    /// answered 429.
    #[serde(default)]
    pub reset_at: Option<String>,
    /// Sources of the normalized `ratelimit-limit`, `ratelimit-remaining` and
    /// `ratelimit-reset` (seconds until reset; the provider's value in any of the units of
    /// `reset_at`) response headers. Defaults: the `ratelimit-*`, then `x-ratelimit-*`
    /// headers.
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub remaining: Option<String>,
    #[serde(default)]
    pub reset: Option<String>,
    /// A proactive per-account budget, e.g. `{ requests: 5, per_ms: 1000 }`.
    #[serde(default)]
    pub budget: Option<BudgetConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorConfig {
    /// JSONata over `{status, headers, response}` giving the provider's error message.
    pub message: String,
}

/// `catalog/integrations/<name>/<category>.yaml`: `resource -> method -> mapping`.
/// A method's key is one of the five standard methods or a custom method of the model.
pub type CategoryMappingsConfig = IndexMap<String, IndexMap<String, UnifiedMappingConfig>>;

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
    /// JSONata over `{id, query, rawQuery, body, context, before}` giving an object of
    /// provider query parameters (undefined values left out, objects and arrays in bracket
    /// notation); the client's `remote_query` wins over it.
    #[serde(default)]
    pub query_mapping: Option<String>,
    /// JSONata over the same scope as `query_mapping` giving the provider request body;
    /// `null` sends none (a custom method whose ids are all in the path), undefined sends
    /// `{}`. Absent: the unified body as is. On a `delete`, a body is sent only with this
    /// mapping.
    #[serde(default)]
    pub request_body_mapping: Option<String>,
    /// JSONata giving one unified record from `response` (one provider record, as selected
    /// by the resource's `response_path`), beside the scope of `query_mapping`. Absent: the
    /// provider record as is.
    #[serde(default)]
    pub response_mapping: Option<String>,
    /// Re-run `before` and the write when the provider answers one of these statuses
    /// (an optimistic-concurrency conflict), up to `max_attempts` in all.
    #[serde(default)]
    pub retry_on_conflict: Option<ConflictRetryConfig>,
    /// Unified body fields the provider cannot write (`create`, `update`): a request that
    /// sets one is refused with a 422 naming it, never sent with the field silently dropped
    /// (Turso cannot rename an organization).
    #[serde(default)]
    pub unsupported_fields: Vec<String>,
    /// Query parameters of this integration's method beyond the model's filters: what the
    /// provider needs to scope the call (GitHub's members are per organization:
    /// `organization_id`). Mappings read them as `query.<name>`, and so do the raw
    /// resource's path templates (`/orgs/{{query.organization_id}}/members`). A required
    /// one that is missing is a 400 naming it; `GET /integration/{name}` lists them.
    #[serde(default)]
    pub query_params: IndexMap<String, QueryParamConfig>,
    /// The model's list filters this provider applies itself: `query_mapping` turns them
    /// into the provider's own filter parameters. Every other filter of the model is
    /// applied by Unigate to each page's mapped records. Unigate checks these too on the
    /// mapped records, so a provider's looser match (a prefix search) never widens the
    /// answer.
    #[serde(default)]
    pub filters: Vec<String>,
    /// `list` only: the provider's list gives fewer fields than its `get` (Truto's
    /// `is_partial_response`: call `get` for the whole record).
    #[serde(default)]
    pub partial: bool,
    /// Another raw resource to call when the query carries a parameter, by parameter name:
    /// a users list with `group_id` reads the group's members
    /// (`resource_when: { group_id: group_members.list }`). The parameter must be one of
    /// `query_params`; the first one given wins, in the order written.
    #[serde(default)]
    pub resource_when: IndexMap<String, String>,
}

/// An integration-specific query parameter of a unified method.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueryParamConfig {
    /// What the parameter is and where its value comes from.
    pub description: String,
    /// A call without it is a 400 naming it.
    #[serde(default)]
    pub required: bool,
    /// A value that works against the integration's emulator: the sandbox's example calls
    /// use it. Required parameters must have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
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
    /// The provider's statuses meaning a version conflict (409, 412).
    pub statuses: Vec<u16>,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}
