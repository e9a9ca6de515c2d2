//! [`UpstreamError`]: every way a provider call can fail, with where the failure came
//! from ([`Origin`]) and whether sending again may help ([`Retry`]), which drive the retry
//! loop (`retry.rs`) and the client's answer (`crate::error`).

use http::HeaderMap;
use serde_json::Value;

use super::client;
use crate::mapping::template::TemplateError;

/// Where a failure came from and what the client should be told.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{integration} did not answer within {timeout_ms} ms")]
    Timeout { integration: String, timeout_ms: u64 },
    #[error("could not reach {integration}{}", if *through_proxy { " through the outbound proxy (`upstream.proxy` or the environment's HTTPS_PROXY)" } else { "" })]
    Connect {
        integration: String,
        /// The call went to the configured outbound proxy, which is what could not be reached
        /// or did not pass the call on.
        through_proxy: bool,
        #[source]
        source: client::ClientError,
    },
    /// TLS refused the provider's certificate (its host's, or a TLS-inspecting proxy's).
    #[error("{integration}'s TLS certificate was refused ({reason}); {hint}", hint = client::CERTIFICATE_HINT)]
    Certificate { integration: String, reason: String },
    #[error("the connection to {integration} failed mid-answer")]
    Body {
        integration: String,
        #[source]
        source: client::ClientError,
    },
    #[error("{integration} answered more than {limit} bytes")]
    TooLarge { integration: String, limit: usize },
    /// The answers being held in memory across all calls reached `max_buffered_bytes`.
    #[error(
        "Unigate is holding {limit} bytes of provider answers, its limit, and cannot read {integration}'s answer now"
    )]
    MemoryFull { integration: String, limit: usize },
    #[error("{integration} answered {status} with a body that is not valid JSON{encoding}")]
    InvalidJson {
        integration: String,
        status: u16,
        snippet: String,
        /// Empty, or what the body's `Content-Encoding` explains.
        encoding: String,
    },
    #[error("{integration} answered {status}")]
    Status {
        integration: String,
        status: u16,
        message: Option<String>,
        body: Box<Value>,
        headers: Box<HeaderMap>,
        /// The provider said "rate limited" (whatever its status), and when to retry.
        rate_limited: Option<Option<u64>>,
    },
    #[error("cannot build the request to {integration}: {source}")]
    Template {
        integration: String,
        #[source]
        source: TemplateError,
    },
    /// A rendered header value that HTTP cannot carry (a line break, a control character).
    /// `account_config`: it was rendered from the account's context, not the catalog.
    #[error("cannot send {integration} the `{header}` header: its value is not a valid HTTP header value (a line break or a control character)")]
    InvalidHeader {
        integration: String,
        header: String,
        account_config: bool,
    },
    #[error("the URL for {integration} ({url}) is not on one of its allowed hosts")]
    ForbiddenHost { integration: String, url: String },
    #[error("the URL for {integration} is invalid: {url}")]
    BadUrl { integration: String, url: String },
    /// A next-page URL (a `Link` header, a body's next link, a URL in a client's
    /// `next_cursor`) on another host than the integration's base URL.
    #[error("{integration} gave a next-page URL on another host ({url}); Unigate only follows pages on the integration's own host")]
    ForeignPage { integration: String, url: String },
    /// An address Unigate will not connect to (SSRF protection). `account_config`: the host
    /// came from the account's context (a client error), not from the catalog, a provider's
    /// link or DNS.
    #[error("refused to call {integration} at {host}: {reason}; Unigate does not connect to private, loopback, link-local or reserved addresses unless the integration lists them in `allowed_private_networks`")]
    PrivateAddress {
        integration: String,
        host: String,
        reason: String,
        account_config: bool,
    },
    #[error("{integration} answered {status}, a redirect to {location}, which Unigate does not follow")]
    Redirect {
        integration: String,
        status: u16,
        location: String,
    },
    /// The account's proactive request budget has no slot within the longest wait.
    #[error("this account's request budget for {integration} ({requests} per {per_ms} ms) is used up for the next {retry_after_ms} ms")]
    BudgetExhausted {
        integration: String,
        requests: u32,
        per_ms: u64,
        retry_after_ms: u64,
    },
    #[error("cannot reserve a request slot for {integration}")]
    Store {
        integration: String,
        #[source]
        source: crate::store::StoreError,
    },
}

/// Where a failure came from: whom an operator or a client should look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The provider answered, and the answer is the failure (an error status, garbage, too
    /// much, a redirect, a page on another host).
    Provider,
    /// The way to the provider: no connection, a timeout, a refused certificate, an answer
    /// that broke off.
    Network,
    /// The integrated account's own configuration (its context renders a bad URL, host or
    /// header): the client can fix it.
    Account,
    /// Unigate itself: its limits (memory, request budget), its store, or the catalog.
    Gateway,
}

/// Whether sending the same request again may succeed, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// No: the same request would fail the same way, or may already have been applied.
    No,
    /// Yes, after a backoff.
    Backoff,
    /// Yes, after the seconds the provider asked for (`Retry-After` or its own header).
    After(u64),
}

impl Retry {
    /// For an answer with `status` that the integration reads as `rate_limited` (see
    /// `Upstream::rate_limited`): a rate-limited answer means "not processed", so any method
    /// may be sent again, when the provider says (or after a backoff); a 502, 503 or 504
    /// only for an `idempotent` method, since the provider may have applied it.
    pub fn for_answer(status: u16, rate_limited: Option<Option<u64>>, idempotent: bool) -> Retry {
        match rate_limited {
            Some(Some(secs)) => Retry::After(secs),
            Some(None) => Retry::Backoff,
            None if idempotent && matches!(status, 502..=504) => Retry::Backoff,
            None => Retry::No,
        }
    }
}

impl UpstreamError {
    /// The provider's status, when the provider answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            UpstreamError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The failure's kind as a metric label (`unigate_provider_errors_total{kind}`).
    pub fn kind(&self) -> &'static str {
        use UpstreamError as U;
        match self {
            U::Timeout { .. } => "timeout",
            U::Connect { .. } => "connect",
            U::Certificate { .. } => "certificate",
            U::Body { .. } => "body",
            U::TooLarge { .. } => "too_large",
            U::MemoryFull { .. } => "memory_full",
            U::InvalidJson { .. } => "invalid_json",
            U::Status { status, .. } if *status >= 500 => "http_5xx",
            U::Status { .. } => "http_4xx",
            U::Template { .. } => "template",
            U::InvalidHeader { .. } => "invalid_header",
            U::ForbiddenHost { .. } => "forbidden_host",
            U::BadUrl { .. } => "bad_url",
            U::ForeignPage { .. } => "foreign_page",
            U::PrivateAddress { .. } => "private_address",
            U::Redirect { .. } => "redirect",
            U::BudgetExhausted { .. } => "budget_exhausted",
            U::Store { .. } => "store",
        }
    }

    /// Where the failure came from.
    pub fn origin(&self) -> Origin {
        use UpstreamError as U;
        match self {
            U::Status { .. }
            | U::InvalidJson { .. }
            | U::TooLarge { .. }
            | U::Redirect { .. }
            | U::ForeignPage { .. } => Origin::Provider,
            U::Timeout { .. } | U::Connect { .. } | U::Certificate { .. } | U::Body { .. } => Origin::Network,
            U::PrivateAddress { account_config, .. } | U::InvalidHeader { account_config, .. } => {
                if *account_config {
                    Origin::Account
                } else if matches!(self, U::PrivateAddress { .. }) {
                    // The address came from the provider's DNS or a link it gave.
                    Origin::Provider
                } else {
                    Origin::Gateway
                }
            }
            U::Template { .. } | U::ForbiddenHost { .. } | U::BadUrl { .. } => Origin::Account,
            U::MemoryFull { .. } | U::BudgetExhausted { .. } | U::Store { .. } => Origin::Gateway,
        }
    }

    /// Whether the same request may be sent again after this failure of one attempt:
    /// a connection that never opened sent nothing (any method); one that failed after
    /// opening may have delivered the request (only an `idempotent` method); a rate-limited
    /// or overloaded answer as [`Retry::for_answer`] says. A timeout is not retried (the
    /// client would wait several timeouts for a 504), nor a refused address or certificate,
    /// nor anything Unigate or the account's configuration caused.
    pub fn retry(&self, idempotent: bool) -> Retry {
        match self {
            UpstreamError::Connect { source, .. } if source.is_connect() => Retry::Backoff,
            UpstreamError::Connect { source, .. } if idempotent && source.is_request() => Retry::Backoff,
            UpstreamError::Status {
                status, rate_limited, ..
            } => Retry::for_answer(*status, *rate_limited, idempotent),
            _ => Retry::No,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(source: client::ClientError) -> UpstreamError {
        UpstreamError::Connect {
            integration: "x".into(),
            through_proxy: false,
            source,
        }
    }

    fn status(status: u16, rate_limited: Option<Option<u64>>) -> UpstreamError {
        UpstreamError::Status {
            integration: "x".into(),
            status,
            message: None,
            body: Box::new(Value::Null),
            headers: Box::default(),
            rate_limited,
        }
    }

    #[test]
    fn a_connection_that_never_opened_is_retried_for_any_method_one_that_broke_only_when_idempotent() {
        let never_opened = connect(client::ClientError::Connect("refused".into()));
        assert_eq!(never_opened.retry(false), Retry::Backoff);
        let broke = connect(client::ClientError::Request("reset".into()));
        assert_eq!(broke.retry(true), Retry::Backoff);
        assert_eq!(broke.retry(false), Retry::No);
        let bad_request = connect(client::ClientError::Build("header".into()));
        assert_eq!(bad_request.retry(true), Retry::No);
        let timeout = UpstreamError::Timeout {
            integration: "x".into(),
            timeout_ms: 1,
        };
        assert_eq!(timeout.retry(true), Retry::No);
        assert_eq!(timeout.origin(), Origin::Network);
    }

    #[test]
    fn provider_answers_retry_as_their_rate_limit_and_status_say() {
        assert_eq!(status(429, Some(Some(3))).retry(false), Retry::After(3));
        assert_eq!(status(403, Some(None)).retry(false), Retry::Backoff);
        assert_eq!(status(503, None).retry(true), Retry::Backoff);
        assert_eq!(status(503, None).retry(false), Retry::No);
        assert_eq!(status(404, None).retry(true), Retry::No);
        assert_eq!(status(404, None).origin(), Origin::Provider);
    }

    #[test]
    fn the_origin_tells_the_account_from_the_provider_and_the_gateway() {
        let address = |account_config| UpstreamError::PrivateAddress {
            integration: "x".into(),
            host: "10.0.0.1".into(),
            reason: "private".into(),
            account_config,
        };
        assert_eq!(address(true).origin(), Origin::Account);
        assert_eq!(address(false).origin(), Origin::Provider);
        let header = |account_config| UpstreamError::InvalidHeader {
            integration: "x".into(),
            header: "authorization".into(),
            account_config,
        };
        assert_eq!(header(true).origin(), Origin::Account);
        assert_eq!(header(false).origin(), Origin::Gateway);
        let full = UpstreamError::MemoryFull {
            integration: "x".into(),
            limit: 1,
        };
        assert_eq!(full.origin(), Origin::Gateway);
        assert_eq!(full.retry(true), Retry::No);
    }
}
