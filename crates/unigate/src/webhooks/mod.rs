//! Outbound webhooks: which events a change makes, how a webhook's body is signed, which
//! target URLs are accepted, and the delivery worker (`worker`).
//!
//! An event is written to the outbox by the store in the transaction of the change it
//! reports (`store::webhooks`); callers build it here ([`account_events`],
//! [`event`]) from the resource as the admin API shows it. The worker of every instance
//! claims due deliveries from the store, signs and sends them, and retries failures on a
//! schedule. The admin API (`/webhook`) is `http::webhooks`.
//!
//! Signatures: Truto's `X-Truto-Signature: format=sha256,v=<base64 HMAC-SHA256 of the body>`
//! and the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`), both keyed
//! with the secret's bytes. During the 24 hours after a rotation, each carries one
//! signature per valid secret, the new one first.

pub mod worker;

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::address_policy::AddressPolicy;
use crate::config::WebhooksConfig;
use crate::crypto::Keyring;
use crate::error::ApiError;
use crate::store::{AccountRecord, AccountStatus, NewEvent, WebhookRecord};

pub use worker::Worker;

/// The events Unigate sends.
pub const EMITTED: &[&str] = &[
    "integrated_account:created",
    "integrated_account:updated",
    "integrated_account:deleted",
    "integrated_account:active",
    "integrated_account:reactivated",
    "integrated_account:authentication_error",
    "integrated_account:post_install_error",
    "integrated_account:validation_error",
    "api_token:created",
    "api_token:deleted",
    "environment_unified_model:updated",
    "webhook:disabled",
];

/// Every event type Truto's `POST /webhook` accepts: a webhook may subscribe to any of
/// them (a configuration written for Truto is accepted unchanged), though Unigate only
/// sends [`EMITTED`] and `test`.
pub const ACCEPTED: &[&str] = &[
    "integrated_account:created",
    "integrated_account:updated",
    "integrated_account:deleted",
    "integrated_account:active",
    "integrated_account:reactivated",
    "integrated_account:authentication_error",
    "integrated_account:post_install_error",
    "integrated_account:validation_error",
    "integrated_account:post_connect_form_submitted",
    "integrated_account:forbidden_error",
    "link_token:connection_error",
    "environment_integration:created",
    "environment_integration:updated",
    "environment_integration:deleted",
    "environment_unified_model:created",
    "environment_unified_model:updated",
    "environment_unified_model:deleted",
    "api_token:created",
    "api_token:deleted",
    "sync_job_run:created",
    "sync_job_run:updated",
    "sync_job_run:started",
    "sync_job_run:completed",
    "sync_job_run:failed",
    "sync_job_run:deleted",
    "sync_job_run:record",
    "sync_job_run:record_error",
    "sync_job_run:rate_limited",
    "record:created",
    "record:updated",
    "record:deleted",
    "record:meta",
    "sync_job_cron_trigger:failed",
    "batch_job:dry_run_completed",
    "batch_job:completed",
    "batch_job:dry_run_failed",
    "batch_job:failed",
    // Unigate's own: a webhook set inactive after failing repeatedly.
    "webhook:disabled",
];

/// The name of the event `POST /webhook/test` sends.
pub const TEST_EVENT: &str = "test";

/// How long the secret before a rotation keeps signing.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// An event for the outbox.
pub fn event(environment_id: &str, name: &str, payload: Value, ordering_key: &str) -> NewEvent {
    NewEvent {
        // Time-ordered, like the deliveries it makes.
        id: uuid::Uuid::now_v7().to_string(),
        environment_id: environment_id.to_string(),
        event: name.to_string(),
        payload,
        ordering_key: ordering_key.to_string(),
        created_at: Utc::now(),
    }
}

/// The event a change of an account's status makes, if any; `before` is `None` for a new
/// account.
pub fn status_event(before: Option<AccountStatus>, after: AccountStatus) -> Option<&'static str> {
    use AccountStatus::*;
    match (before, after) {
        (Some(b), a) if b == a => None,
        (None | Some(Connecting), Active) => Some("integrated_account:active"),
        (Some(NeedsReauth | PostInstallError | ValidationError), Active) => Some("integrated_account:reactivated"),
        (_, NeedsReauth) => Some("integrated_account:authentication_error"),
        (_, PostInstallError) => Some("integrated_account:post_install_error"),
        (_, ValidationError) => Some("integrated_account:validation_error"),
        (Some(Active), Active) | (_, Connecting) => None,
    }
}

/// What a change to an account makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// A new account (`created`, then its status's event).
    Created,
    /// An edit through the admin API (`updated`, then a status change's event).
    Updated {
        before: AccountStatus,
    },
    /// A change of credentials or status only (connect flow, token refresh): the status
    /// change's event, if any.
    Status {
        before: AccountStatus,
    },
    Deleted,
}

/// The events of an account change, in the order they happened; `view` is the account as
/// the admin API shows it after the change.
pub fn account_events(record: &AccountRecord, change: AccountChange, view: &Value) -> Vec<NewEvent> {
    let names: Vec<&str> = match change {
        AccountChange::Created => std::iter::once("integrated_account:created")
            .chain(status_event(None, record.status))
            .collect(),
        AccountChange::Updated { before } => std::iter::once("integrated_account:updated")
            .chain(status_event(Some(before), record.status))
            .collect(),
        AccountChange::Status { before } => status_event(Some(before), record.status).into_iter().collect(),
        AccountChange::Deleted => vec!["integrated_account:deleted"],
    };
    names
        .into_iter()
        .map(|name| event(&record.environment_id, name, view.clone(), &record.id))
        .collect()
}

/// A new secret: a UUID, as Truto's.
pub fn new_secret() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn seal_secret(keyring: &Keyring, webhook_id: &str, secret: &str) -> String {
    keyring.seal(secret.as_bytes(), format!("webhook:{webhook_id}").as_bytes())
}

fn open_secret(keyring: &Keyring, webhook_id: &str, sealed: &str) -> Result<String, anyhow::Error> {
    let plain = keyring
        .open(sealed, format!("webhook:{webhook_id}").as_bytes())
        .map_err(|e| anyhow::Error::new(e).context(format!("cannot decrypt the secret of webhook {webhook_id}")))?;
    String::from_utf8(plain).map_err(|_| anyhow::anyhow!("the secret of webhook {webhook_id} is not text"))
}

/// What [`reseal_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resealed {
    pub webhooks: u64,
    pub resealed: u64,
}

/// Re-seals every webhook's secrets under the keyring's primary key (`unigate keys
/// rotate`, after the accounts), as `accounts::rotate_all` does for accounts: values already
/// under it are left alone, and a webhook whose secret was rotated meanwhile is read again.
pub async fn reseal_all(store: &dyn crate::store::Store, keyring: &Keyring) -> Result<Resealed, anyhow::Error> {
    let mut report = Resealed::default();
    let mut after: Option<String> = None;
    loop {
        let batch = store.list_all_webhooks(after.as_deref(), 500).await?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        for mut w in batch {
            report.webhooks += 1;
            for _ in 0..5 {
                let current = |sealed: &str| Keyring::key_id_of(sealed) == Some(keyring.primary_key_id());
                if current(&w.secret) && w.previous_secret.as_deref().is_none_or(current) {
                    break;
                }
                let secret = seal_secret(keyring, &w.id, &open_secret(keyring, &w.id, &w.secret)?);
                let previous = match &w.previous_secret {
                    Some(p) => Some(seal_secret(keyring, &w.id, &open_secret(keyring, &w.id, p)?)),
                    None => None,
                };
                let expected = (w.secret.as_str(), w.previous_secret.as_deref());
                if store
                    .reseal_webhook_secrets(&w.id, expected, (&secret, previous.as_deref()))
                    .await?
                {
                    report.resealed += 1;
                    break;
                }
                // Rotated (or deleted) meanwhile: read it again.
                match store.get_webhook(&w.environment_id, &w.id).await? {
                    Some(fresh) => w = fresh,
                    None => break,
                }
            }
        }
    }
    Ok(report)
}

/// The secrets that sign a webhook's bodies at `now`: the current one, then the one before
/// a rotation while it is still valid.
pub fn signing_secrets(keyring: &Keyring, w: &WebhookRecord, now: DateTime<Utc>) -> Result<Vec<String>, anyhow::Error> {
    let mut secrets = vec![open_secret(keyring, &w.id, &w.secret)?];
    if let (Some(previous), Some(until)) = (&w.previous_secret, w.previous_secret_expires_at) {
        if until > now {
            secrets.push(open_secret(keyring, &w.id, previous)?);
        }
    }
    Ok(secrets)
}

fn hmac_base64(secret: &str, parts: &[&[u8]]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `X-Truto-Signature`: `format=sha256,v=<base64 HMAC-SHA256 of the body>`, one `v=` per
/// secret.
pub fn truto_signature(secrets: &[String], body: &[u8]) -> String {
    let mut header = String::from("format=sha256");
    for s in secrets {
        header.push_str(",v=");
        header.push_str(&hmac_base64(s, &[body]));
    }
    header
}

/// Standard Webhooks' `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`,
/// one per secret, separated by spaces.
pub fn standard_signature(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    secrets
        .iter()
        .map(|s| {
            format!(
                "v1,{}",
                hmac_base64(s, &[id.as_bytes(), b".", ts.as_bytes(), b".", body])
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The body sent for an event to a webhook: Truto's shape.
pub fn body(
    event_id: &str,
    name: &str,
    payload: &Value,
    environment_id: &str,
    webhook_id: &str,
    at: DateTime<Utc>,
) -> Vec<u8> {
    json!({
        "id": event_id,
        "event": name,
        "payload": payload,
        "environment_id": environment_id,
        "webhook_id": webhook_id,
        "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
    .to_string()
    .into_bytes()
}

/// The operator's rules for targets: which private networks are allowed, and plain HTTP.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    pub addresses: AddressPolicy,
    pub allow_http: bool,
}

impl TargetPolicy {
    pub fn from_config(config: &WebhooksConfig) -> Result<TargetPolicy, String> {
        let allowed_private = config
            .allowed_private_networks
            .iter()
            .map(|n| n.parse().map_err(|e| format!("webhooks.allowed_private_networks: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(TargetPolicy {
            addresses: AddressPolicy { allowed_private },
            allow_http: config.allow_http,
        })
    }

    /// Checks a target URL as given to the admin API: absolute, HTTPS (or HTTP when
    /// allowed), and not at an address the policy forbids, whether written as an address
    /// or resolving to one. A name that does not resolve now is accepted (the send checks
    /// again, after its own lookup).
    pub async fn check(&self, target: &str) -> Result<url::Url, ApiError> {
        let url = url::Url::parse(target)
            .map_err(|e| ApiError::bad_request(format!("`target_url` is not an absolute URL: {e}.")))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            other => {
                return Err(ApiError::bad_request(format!(
                    "`target_url` must be an https:// URL, not {other}://."
                )))
            }
        }
        let host = url
            .host_str()
            .ok_or_else(|| ApiError::bad_request("`target_url` has no host."))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ApiError::bad_request(
                "`target_url` may not hold a user name or password; authenticate the webhook by its signature.",
            ));
        }
        let forbidden = |ips: &[IpAddr]| {
            ApiError::bad_request(format!(
                "`target_url` points at {} (a private, loopback, link-local or reserved address): webhooks may only reach public addresses, unless the operator allows the network in webhooks.allowed_private_networks.",
                ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ))
        };
        if let Some(ip) = literal_ip(&url) {
            return if self.addresses.permits(ip) {
                Ok(url)
            } else {
                Err(forbidden(&[ip]))
            };
        }
        let port = url.port_or_known_default().unwrap_or(443);
        if let Ok(found) = tokio::net::lookup_host((host, port)).await {
            let ips: Vec<IpAddr> = found.map(|a| a.ip()).collect();
            if !ips.is_empty() && !ips.iter().any(|ip| self.addresses.permits(*ip)) {
                return Err(forbidden(&ips));
            }
        }
        Ok(url)
    }
}

/// The address of a URL whose host is written as one (the resolver never sees those).
pub fn literal_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(_) => None,
    }
}

/// The webhook as the admin API shows it: never a secret.
pub fn view(w: &WebhookRecord) -> Value {
    let ts = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "id": w.id,
        "target_url": w.target_url,
        "is_active": w.is_active,
        "event_types": w.event_types,
        "environment_id": w.environment_id,
        "previous_secret_expires_at": w.previous_secret_expires_at.as_ref().filter(|t| **t > Utc::now()).map(ts),
        "created_at": ts(&w.created_at),
        "updated_at": ts(&w.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_changes_make_trutos_events() {
        use AccountStatus::*;
        assert_eq!(status_event(None, Active), Some("integrated_account:active"));
        assert_eq!(
            status_event(Some(Connecting), Active),
            Some("integrated_account:active")
        );
        assert_eq!(
            status_event(Some(NeedsReauth), Active),
            Some("integrated_account:reactivated")
        );
        assert_eq!(
            status_event(Some(Active), NeedsReauth),
            Some("integrated_account:authentication_error")
        );
        assert_eq!(
            status_event(Some(Connecting), ValidationError),
            Some("integrated_account:validation_error")
        );
        assert_eq!(status_event(Some(Active), Active), None);
        assert_eq!(status_event(None, Connecting), None);
    }

    #[test]
    fn signatures_follow_truto_and_standard_webhooks() {
        let secrets = vec!["s1".to_string(), "s0".to_string()];
        let truto = truto_signature(&secrets, b"{}");
        assert_eq!(truto.matches(",v=").count(), 2);
        assert!(truto.starts_with("format=sha256,v="));
        let standard = standard_signature(&secrets[..1], "msg_1", 1_700_000_000, b"{}");
        assert!(standard.starts_with("v1,") && !standard.contains(' '));
        assert_eq!(standard.len(), "v1,".len() + 44);
    }
}
