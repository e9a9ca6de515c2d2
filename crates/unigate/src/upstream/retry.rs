//! Sending with retries and pacing: the account's proactive request budget before every
//! attempt, and after a failed one a wait chosen by [`Retry`] (backoff with full jitter, or
//! the provider's `Retry-After`), within a count and a total time.

use std::time::{Duration, Instant};

use tracing::Instrument as _;

use super::{client, digest, Retry, Upstream, UpstreamError, UpstreamRequest};
use crate::catalog::Integration;

impl Upstream {
    /// Sends (see [`Upstream::send_with_retries`]); with HTTP Digest, a `401` carrying a challenge
    /// is answered once with the credentials and the same request sent again.
    pub async fn send(
        &self,
        integration: &Integration,
        req: &UpstreamRequest,
    ) -> Result<client::Response, UpstreamError> {
        let request = &req.request;
        let budget_key = req.budget_key.as_deref();
        let Some(credentials) = &req.digest else {
            return Box::pin(self.send_with_retries(integration, request, budget_key)).await;
        };
        let response = Box::pin(self.send_with_retries(integration, request, budget_key)).await?;
        if response.status != http::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let answer = digest::answer(&response.headers, credentials, request.method.as_str(), &request.url);
        match answer.and_then(|a| http::HeaderValue::from_str(&a).ok()) {
            Some(mut value) => {
                value.set_sensitive(true);
                let mut again = request.clone();
                again.headers.insert(http::header::AUTHORIZATION, value);
                Box::pin(self.send_with_retries(integration, &again, budget_key)).await
            }
            None => Ok(response),
        }
    }

    /// Sends, with retries: connections that never opened and rate-limited answers (nothing
    /// was processed) for every method; broken connections and provider 502/503/504 only
    /// for idempotent methods (GET, PUT, DELETE), since a POST or PATCH may have been
    /// applied. Exponential backoff with full jitter; a provider `Retry-After` is honoured
    /// up to `max_retry_after_ms`. No retry starts whose wait would end more than
    /// `max_total_ms` after the first attempt. Every attempt first takes a slot of the
    /// account's request budget, if `budget_key` names one and the integration has one.
    /// Returns the last response with its body unread (for streaming), or the last failure.
    /// Bodies here are always in memory, so each attempt sends the same `request` again.
    async fn send_with_retries(
        &self,
        integration: &Integration,
        request: &client::Request,
        budget_key: Option<&str>,
    ) -> Result<client::Response, UpstreamError> {
        let name = integration.name().to_string();
        let idempotent = matches!(
            request.method,
            http::Method::GET | http::Method::PUT | http::Method::DELETE | http::Method::HEAD
        );
        let policy = &self.config.retry;
        let overrides = integration.config.retry.as_ref();
        let max_attempts = overrides.and_then(|r| r.max_attempts).unwrap_or(policy.max_attempts);
        let max_total = Duration::from_millis(overrides.and_then(|r| r.max_total_ms).unwrap_or(policy.max_total_ms));
        let client = self.client_for(integration);
        let started = Instant::now();
        let mut previous: Option<Result<client::Response, UpstreamError>> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Err(e) = self.pace(integration, budget_key).await {
                // A retry that cannot get a slot in time: the last answer stands.
                return match previous {
                    Some(result) => self.settle(integration, result),
                    None => Err(e),
                };
            }
            // One span per attempt (traces): the host only, never the path or query, which
            // may carry an account's values.
            let span = tracing::info_span!(
                target: "unigate_otel",
                "upstream.attempt",
                otel.name = %format_args!("{} {}", request.method, name),
                otel.kind = "client",
                otel.status_code = tracing::field::Empty,
                unigate.integration = %name,
                unigate.attempt = attempt,
                http.request.method = %request.method,
                server.address = request.url.host_str().unwrap_or_default(),
                http.response.status_code = tracing::field::Empty,
                error.type = tracing::field::Empty,
            );
            // Failures are classified at once: the error's own rules say whether to retry.
            // Not wrapped when disabled (traces off): no extra move of the exchange's future.
            let sent = Instant::now();
            let result = if span.is_disabled() {
                client.execute(request).await
            } else {
                client.execute(request).instrument(span.clone()).await
            }
            .map_err(|e| self.classify(integration, e, true));
            let took = sent.elapsed();
            match &result {
                Ok(resp) => {
                    span.record("http.response.status_code", resp.status.as_u16());
                    if resp.status.is_server_error() || resp.status == http::StatusCode::TOO_MANY_REQUESTS {
                        span.record("otel.status_code", "ERROR");
                    }
                }
                Err(e) => {
                    span.record("error.type", error_type(e));
                    span.record("otel.status_code", "ERROR");
                }
            }
            let retry = match &result {
                Err(e) => {
                    self.metrics.record_attempt(&name, took, Some(e.kind()));
                    e.retry(idempotent)
                }
                Ok(resp) => {
                    let status = resp.status.as_u16();
                    let failure = match status {
                        500.. => Some("http_5xx"),
                        400.. => Some("http_4xx"),
                        _ => None,
                    };
                    self.metrics.record_attempt(&name, took, failure);
                    let limited = self.rate_limited(integration, status, &resp.headers, None);
                    if limited.is_some() {
                        self.metrics.record_rate_limited(&name);
                    }
                    Retry::for_answer(status, limited, idempotent)
                }
            };
            let wait = match retry {
                Retry::No => None,
                Retry::Backoff => Some(self.backoff(attempt)),
                // A `Retry-After` beyond what we wait for: the provider's answer stands.
                Retry::After(secs) if secs * 1000 <= policy.max_retry_after_ms => Some(Duration::from_secs(secs)),
                Retry::After(_) => None,
            };
            let wait = wait.filter(|w| {
                let within = started.elapsed() + *w <= max_total;
                if !within {
                    tracing::info!(integration = %name, attempt, wait_ms = w.as_millis() as u64, max_total_ms = max_total.as_millis() as u64, "not retrying: the retry time budget would be exceeded");
                }
                within
            });
            match wait.filter(|_| attempt < max_attempts) {
                Some(wait) => {
                    tracing::info!(integration = %name, attempt, wait_ms = wait.as_millis() as u64, "retrying provider call");
                    self.metrics.record_retry(&name);
                    tokio::time::sleep(wait).await;
                    previous = Some(result);
                }
                None => return self.settle(integration, result),
            }
        }
    }

    /// The outcome of the last attempt: failures classified, and a redirect refused (never
    /// followed: its target could be any host, and would get the account's credentials).
    fn settle(
        &self,
        integration: &Integration,
        result: Result<client::Response, UpstreamError>,
    ) -> Result<client::Response, UpstreamError> {
        let response = result?;
        let status = response.status;
        if status.is_redirection() && status != http::StatusCode::NOT_MODIFIED {
            let location = response
                .headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location)")
                .chars()
                .take(300)
                .collect();
            return Err(UpstreamError::Redirect {
                integration: integration.name().to_string(),
                status: status.as_u16(),
                location,
            });
        }
        Ok(response)
    }

    /// Waits for a slot of the account's proactive request budget (`rate_limit.budget`),
    /// shared by every instance on the store; a slot further away than the longest wait is
    /// a [`UpstreamError::BudgetExhausted`].
    async fn pace(&self, integration: &Integration, key: Option<&str>) -> Result<(), UpstreamError> {
        let (Some(store), Some(key), Some(budget)) = (&self.budgets, key, &integration.rate_limit.budget) else {
            return Ok(());
        };
        let lanes = crate::store::BudgetLanes::new(budget.requests, budget.per_ms);
        let max_wait = budget.max_wait_ms.unwrap_or(self.config.budget_max_wait_ms);
        let slot = store
            .reserve_rate_slot(key, lanes, max_wait)
            .await
            .map_err(|source| UpstreamError::Store {
                integration: integration.name().to_string(),
                source,
            })?;
        match slot {
            crate::store::RateSlot::Granted { wait_ms: 0 } => Ok(()),
            crate::store::RateSlot::Granted { wait_ms } => {
                self.metrics
                    .record_budget_wait(integration.name(), Duration::from_millis(wait_ms));
                tracing::debug!(
                    integration = integration.name(),
                    wait_ms,
                    "spacing a call to stay within the account's request budget"
                );
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                Ok(())
            }
            crate::store::RateSlot::Exhausted { retry_after_ms } => {
                self.metrics.record_budget_exhausted(integration.name());
                tracing::info!(
                    integration = integration.name(),
                    retry_after_ms,
                    "the account's request budget is used up"
                );
                Err(UpstreamError::BudgetExhausted {
                    integration: integration.name().to_string(),
                    requests: budget.requests,
                    per_ms: budget.per_ms,
                    retry_after_ms,
                })
            }
        }
    }

    /// Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
    fn backoff(&self, attempt: u32) -> Duration {
        use rand::Rng;
        let p = &self.config.retry;
        let cap = p
            .base_delay_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
            .min(p.max_delay_ms);
        Duration::from_millis(rand::thread_rng().gen_range(0..=cap))
    }
}

/// A failed attempt's kind for its span (`error.type`): a fixed word, never the message
/// (which may name a URL).
fn error_type(e: &UpstreamError) -> &'static str {
    match e {
        UpstreamError::Timeout { .. } => "timeout",
        UpstreamError::Connect { .. } => "connect",
        UpstreamError::Certificate { .. } => "tls",
        UpstreamError::Body { .. } => "body",
        UpstreamError::TooLarge { .. } => "too_large",
        UpstreamError::MemoryFull { .. } => "memory_full",
        _ => "other",
    }
}
