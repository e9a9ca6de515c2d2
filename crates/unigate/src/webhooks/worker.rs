//! The delivery worker: one per instance. It claims due deliveries from the store under a
//! lease (so instances sharing a database never claim the same one), sends each in a task of
//! its own (a slow target never holds up the others, nor any API call), records the
//! attempt and schedules the next one; and hourly deletes finished events past their
//! retention.
//!
//! At least once: a delivery is marked delivered only after its target answered 2xx; if the
//! process dies mid-send, the lease expires and a worker (here after a restart, or on
//! another instance) sends it again, with the same event id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::Rng as _;
use tokio::sync::{Notify, Semaphore};

use super::{body, literal_ip, signing_secrets, standard_signature, truto_signature, TargetPolicy, TEST_EVENT};
use crate::config::WebhooksConfig;
use crate::crypto::Keyring;
use crate::store::{AttemptRecord, ClaimedDelivery, DeliveryOutcome, Store};
use crate::upstream::client::{reqwest_client, Settings};
use crate::upstream::net::{forbidden_address, GuardedResolver};

/// How much of a failed answer's body is kept in the attempt's error.
const ERROR_BODY_BYTES: usize = 512;
/// How long past the attempt timeout a claim stays leased: a worker that died mid-send
/// releases its deliveries after this.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// The first pruning waits this long after start, out of the way of a starting instance.
const FIRST_PRUNE: Duration = Duration::from_secs(60);
const PRUNE_CHUNK: u32 = 1000;

struct Shared {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    config: WebhooksConfig,
    http: reqwest::Client,
    policy: TargetPolicy,
}

/// The running worker; [`Worker::stop`] ends it.
pub struct Worker {
    stopping: Arc<Notify>,
    /// Wakes the loop: a finished send, or an event this instance just committed.
    wake: Arc<Notify>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Worker {
    /// Starts the worker (when `config.delivery`) and the hourly pruning of old events.
    pub fn start(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        config: WebhooksConfig,
        policy: TargetPolicy,
        extra_roots: Arc<[rustls::pki_types::CertificateDer<'static>]>,
    ) -> Result<Worker, crate::upstream::client::BoxError> {
        let http = reqwest_client(Settings {
            connect_timeout: Duration::from_millis(config.timeout_ms),
            resolver: GuardedResolver {
                policy: policy.addresses.clone(),
                trusted_hosts: Arc::default(),
            },
            proxy: None,
            extra_roots,
        })?;
        let stopping = Arc::new(Notify::new());
        let wake = Arc::new(Notify::new());
        let task = config.delivery.then(|| {
            let shared = Arc::new(Shared {
                store,
                keyring,
                config,
                http,
                policy,
            });
            tokio::spawn(run(shared, stopping.clone(), wake.clone()))
        });
        Ok(Worker {
            stopping,
            wake,
            task: std::sync::Mutex::new(task),
        })
    }

    /// Looks for due deliveries now rather than at the next poll: called after this instance
    /// committed events, so they go out at once. Other instances find them at their next poll.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Stops claiming, and waits at most `within` for the sends under way; a send still
    /// running then is abandoned, and its delivery sent again once its lease expires.
    pub async fn stop(&self, within: Duration) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(task) = task else { return };
        self.stopping.notify_one();
        if tokio::time::timeout(within, task).await.is_err() {
            tracing::warn!("webhook deliveries still being sent at shutdown were abandoned; they are sent again later");
        }
    }
}

async fn run(shared: Arc<Shared>, stopping: Arc<Notify>, finished: Arc<Notify>) {
    let slots = Arc::new(Semaphore::new(shared.config.concurrency as usize));
    let poll = Duration::from_millis(shared.config.poll_interval_ms);
    let lease = chrono::Duration::from_std(Duration::from_millis(shared.config.timeout_ms) + LEASE_MARGIN)
        .unwrap_or(chrono::Duration::seconds(60));
    // A finished send wakes the loop: the next delivery of the same account may be due now
    // (deliveries of one account go one at a time), and a slot is free.
    let mut next_prune = Instant::now() + FIRST_PRUNE;
    let stop = stopping.notified();
    tokio::pin!(stop);
    // The first look waits one poll interval, out of the way of a starting instance.
    let mut look_now = false;
    loop {
        if look_now {
            // Still stop when there is always more to claim.
            tokio::select! {
                biased;
                _ = &mut stop => break,
                _ = std::future::ready(()) => {}
            }
        } else {
            tokio::select! {
                _ = &mut stop => break,
                _ = finished.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
        if Instant::now() >= next_prune {
            next_prune = Instant::now() + PRUNE_EVERY;
            tokio::spawn(prune(shared.clone()));
        }
        let free = slots.available_permits();
        let mut full_batch = false;
        if free > 0 {
            let now = Utc::now();
            let limit = u32::try_from(free).unwrap_or(u32::MAX);
            match shared.store.claim_deliveries(now, now + lease, limit).await {
                Ok(claimed) => {
                    full_batch = claimed.len() == free;
                    for delivery in claimed {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            break;
                        };
                        let (shared, finished) = (shared.clone(), finished.clone());
                        tokio::spawn(async move {
                            send(&shared, delivery).await;
                            drop(permit);
                            finished.notify_one();
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed; trying again"),
            }
        }
        look_now = full_batch;
    }
    // Wait for the sends under way (every permit back).
    let _ = slots.acquire_many(shared.config.concurrency).await;
}

async fn prune(shared: Arc<Shared>) {
    let before = Utc::now() - chrono::Duration::hours(i64::try_from(shared.config.retention_hours).unwrap_or(72));
    let mut total = 0;
    loop {
        match shared.store.prune_webhook_events(before, PRUNE_CHUNK).await {
            Ok(n) => {
                total += n;
                if n < u64::from(PRUNE_CHUNK) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "pruning delivered webhook events failed");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!(deleted = total, "delivered webhook events past their retention deleted");
    }
}

/// What one attempt came to.
struct Sent {
    status_code: Option<u16>,
    error: Option<String>,
}

async fn send(shared: &Shared, d: ClaimedDelivery) {
    let started = Instant::now();
    let sent = if !d.webhook.is_active && d.event.event != TEST_EVENT {
        Sent {
            status_code: None,
            error: Some("The webhook is inactive.".into()),
        }
    } else {
        attempt(shared, &d).await
    };
    let ok = sent.status_code.is_some_and(|c| (200..300).contains(&c)) && sent.error.is_none();
    let schedule = &shared.config.retry_schedule_secs;
    let outcome = if ok {
        DeliveryOutcome::Delivered
    } else if !d.webhook.is_active && d.event.event != TEST_EVENT {
        DeliveryOutcome::Failed
    } else {
        match schedule.get(d.attempt.saturating_sub(1) as usize) {
            Some(&wait) => DeliveryOutcome::Retry {
                at: Utc::now() + jittered(wait),
            },
            None => DeliveryOutcome::Failed,
        }
    };
    let record = AttemptRecord {
        id: uuid::Uuid::now_v7().to_string(),
        delivery_id: d.id.clone(),
        attempt: d.attempt,
        status_code: sent.status_code,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        error: sent.error,
        created_at: Utc::now(),
    };
    match outcome {
        DeliveryOutcome::Delivered => {
            tracing::debug!(webhook_id = %d.webhook.id, event_id = %d.event.id, attempt = d.attempt, "webhook delivered")
        }
        _ => {
            tracing::info!(webhook_id = %d.webhook.id, event_id = %d.event.id, attempt = d.attempt, status = ?record.status_code, error = record.error.as_deref().unwrap_or(""), final_attempt = outcome == DeliveryOutcome::Failed, "webhook delivery failed")
        }
    }
    let failures = match shared.store.record_attempt(&d.webhook.id, &record, outcome).await {
        Ok(n) => n,
        Err(e) => {
            // The lease expires and the delivery is sent again: at least once.
            tracing::warn!(error = %e, delivery_id = %d.id, "recording a webhook attempt failed");
            return;
        }
    };
    let limit = shared.config.disable_after_failures;
    if limit > 0 && failures >= limit && d.webhook.is_active {
        disable(shared, &d, failures).await;
    }
}

/// Sets a webhook that keeps failing inactive, with a `webhook:disabled` event for the
/// environment's other webhooks.
async fn disable(shared: &Shared, d: &ClaimedDelivery, failures: u32) {
    let mut w = d.webhook.clone();
    w.is_active = false;
    w.updated_at = Utc::now();
    let events = [super::event(
        &w.environment_id,
        "webhook:disabled",
        super::view(&w),
        &w.id,
    )];
    match shared.store.disable_webhook(&w.environment_id, &w.id, &events).await {
        Ok(true) => {
            tracing::warn!(webhook_id = %w.id, failures, "webhook set inactive after failing repeatedly; PATCH is_active to true to resume")
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, webhook_id = %w.id, "could not set a failing webhook inactive"),
    }
}

/// A wait of `secs`, give or take a fifth (so that many deliveries failing at once do not
/// all come back at the same moment).
fn jittered(secs: u64) -> chrono::Duration {
    let ms = secs.saturating_mul(1000) as f64;
    let factor = rand::thread_rng().gen_range(0.8..=1.2);
    chrono::Duration::milliseconds((ms * factor) as i64)
}

async fn attempt(shared: &Shared, d: &ClaimedDelivery) -> Sent {
    let failed = |e: String| Sent {
        status_code: None,
        error: Some(e),
    };
    let now = Utc::now();
    let secrets = match signing_secrets(&shared.keyring, &d.webhook, now) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = ?e, webhook_id = %d.webhook.id, "cannot open a webhook's secret");
            return failed("The webhook's secret cannot be decrypted with the configured keys.".into());
        }
    };
    let url = match url::Url::parse(&d.webhook.target_url) {
        Ok(u) => u,
        Err(e) => return failed(format!("The target URL is invalid: {e}.")),
    };
    if let Some(ip) = literal_ip(&url) {
        if !shared.policy.addresses.permits(ip) {
            return failed(format!(
                "The target address {ip} is private, loopback, link-local or reserved."
            ));
        }
    }
    let payload = body(
        &d.event.id,
        &d.event.event,
        &d.event.payload,
        &d.event.environment_id,
        &d.webhook.id,
        d.event.created_at,
    );
    let timestamp = now.timestamp();
    let request = shared
        .http
        .post(url)
        .timeout(Duration::from_millis(shared.config.timeout_ms))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-truto-signature", truto_signature(&secrets, &payload))
        .header("webhook-id", d.event.id.as_str())
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            standard_signature(&secrets, &d.event.id, timestamp, &payload),
        )
        .body(payload);
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let reason = if let Some(f) = forbidden_address(&e) {
                format!("The target {f}; webhooks may only reach public addresses.")
            } else if e.is_timeout() {
                format!("No answer within {} ms.", shared.config.timeout_ms)
            } else if e.is_connect() {
                "The connection to the target failed.".to_string()
            } else {
                "The request to the target failed.".to_string()
            };
            return failed(reason);
        }
    };
    let status = response.status();
    if status.is_success() {
        return Sent {
            status_code: Some(status.as_u16()),
            error: None,
        };
    }
    // A little of the answer, to say why: never more than a few hundred bytes read.
    let mut head = Vec::new();
    while head.len() < ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk[..chunk.len().min(ERROR_BODY_BYTES - head.len())]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&head).trim().to_string();
    let error = if status.is_redirection() {
        format!("The target answered {status} (redirects are not followed).")
    } else if text.is_empty() {
        format!("The target answered {status}.")
    } else {
        format!("The target answered {status}: {text}")
    };
    Sent {
        status_code: Some(status.as_u16()),
        error: Some(error),
    }
}
