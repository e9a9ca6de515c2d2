//! Integrated accounts: one customer's connection to one provider.
//!
//! An account's context is split on the way in: secret values (the integration's secret
//! credential fields, anything under `oauth`, and any key whose name looks like a
//! credential) are sealed with [`crate::crypto::Keyring`]; the rest is stored as plain JSON and
//! is all the admin API ever returns.

pub mod oauth;

use hashbrown::HashMap;
use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Map, Value};

use crate::catalog::Integration;
use crate::crypto::{holds_secret, looks_secret, Keyring};
use crate::error::ApiError;
use crate::store::{AccountRecord, AccountStatus};

/// A loaded account with its full, decrypted context (integration defaults filled in).
#[derive(Debug, Clone)]
pub struct Account {
    /// Shared with the store's cache of it, when it has one.
    pub record: Arc<AccountRecord>,
    /// Defaults, then public values, then secrets. Never serialized to a client. Shared:
    /// [`Opened`] hands the same context to every call on an unchanged account.
    pub context: Arc<Value>,
    /// Defaults, then public values: what mappings may see.
    pub public_context: Arc<Value>,
}

/// Splits a context into (public, secret) parts for this integration.
pub fn split_context(
    integration: &Integration,
    context: Map<String, Value>,
) -> (Map<String, Value>, Map<String, Value>) {
    let secret_fields: Vec<&str> = integration.secret_fields().collect();
    let mut public = Map::new();
    let mut secret = Map::new();
    for (k, v) in context {
        // The integration's secret fields, and anything named like a credential whatever the
        // catalog says (`unigate validate` refuses `secret: false` on such a name).
        let is_secret = secret_fields.contains(&k.as_str()) || looks_secret(&k) || holds_secret(&v);
        if is_secret {
            secret.insert(k, v);
        } else {
            public.insert(k, v);
        }
    }
    (public, secret)
}

/// Checks that every required credential field is present and non-empty.
pub fn check_required(integration: &Integration, context: &Map<String, Value>) -> Result<(), ApiError> {
    let missing: Vec<&str> = integration
        .config
        .credentials
        .fields
        .iter()
        .filter(|f| f.required)
        .filter(|f| match context.get(&f.name) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        })
        .map(|f| f.name.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "The context is missing required credential fields for integration `{}`: {}.",
            integration.name(),
            missing.join(", ")
        ))
        .with_details(json!({ "missing_fields": missing })))
    }
}

pub fn seal_secrets(keyring: &Keyring, account_id: &str, secrets: &Map<String, Value>) -> String {
    keyring.seal(
        Value::Object(secrets.clone()).to_string().as_bytes(),
        account_id.as_bytes(),
    )
}

pub fn open_secrets(keyring: &Keyring, record: &AccountRecord) -> Result<Map<String, Value>, ApiError> {
    let plain = keyring.open(&record.secrets, record.id.as_bytes()).map_err(|e| {
        ApiError::internal(
            anyhow::Error::new(e).context(format!("cannot decrypt credentials of account {}", record.id)),
        )
    })?;
    match serde_json::from_slice(&plain) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::internal(anyhow::anyhow!(
            "decrypted credentials of account {} are not a JSON object",
            record.id
        ))),
    }
}

impl Account {
    pub fn load(
        keyring: &Keyring,
        integration: &Integration,
        record: impl Into<Arc<AccountRecord>>,
    ) -> Result<Account, ApiError> {
        let record = record.into();
        let secrets = open_secrets(keyring, &record)?;
        let mut public = integration.config.context_defaults.clone();
        if let Value::Object(values) = &record.context {
            public.extend(values.clone());
        }
        let mut context = public.clone();
        context.extend(secrets);
        Ok(Account {
            record,
            context: Arc::new(Value::Object(context)),
            public_context: Arc::new(Value::Object(public)),
        })
    }
}

/// The accounts that calls loaded, kept decrypted with their contexts built, so that the
/// next call on an unchanged account skips the decryption, the JSON parse of its secrets
/// and the merging of its context (about 3 % of a unified `get`'s CPU, bench/ANALYSIS.md,
/// twentieth pass).
///
/// Never stale: an entry is used only for the very record it was built from (the store's
/// record compared whole, sealed secrets included, each seal having its own nonce) and the
/// very integration (the registry's `Arc`: a catalog reload builds new ones). Anything else
/// loads afresh and replaces the entry. Decrypted credentials stay in memory between calls,
/// as the encryption key itself does for the process's life.
#[derive(Default)]
pub struct Opened {
    accounts: std::sync::Mutex<HashMap<String, Arc<OpenedAccount>>>,
}

struct OpenedAccount {
    integration: Arc<Integration>,
    account: Account,
}

/// Accounts kept (all are dropped when a new one would exceed it): a few kilobytes each.
const OPENED_ACCOUNTS: usize = 4096;

impl Opened {
    /// [`Account::load`], or the same account loaded before from an equal record: the very
    /// record the store's cache handed out before (the same `Arc`), or one equal to it.
    pub fn load(
        &self,
        keyring: &Keyring,
        integration: &Arc<Integration>,
        record: impl Into<Arc<AccountRecord>>,
    ) -> Result<Account, ApiError> {
        let record = record.into();
        let kept = self
            .accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&record.id)
            .cloned();
        if let Some(kept) = kept {
            // An equal record is one of the same environment: an entry never serves another
            // environment's call.
            let same = Arc::ptr_eq(&kept.account.record, &record) || *kept.account.record == *record;
            if Arc::ptr_eq(&kept.integration, integration) && same {
                return Ok(Account {
                    record,
                    context: kept.account.context.clone(),
                    public_context: kept.account.public_context.clone(),
                });
            }
        }
        let account = Account::load(keyring, integration, record)?;
        let mut accounts = self.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if accounts.len() >= OPENED_ACCOUNTS && !accounts.contains_key(&account.record.id) {
            accounts.clear();
        }
        accounts.insert(
            account.record.id.clone(),
            Arc::new(OpenedAccount {
                integration: integration.clone(),
                account: account.clone(),
            }),
        );
        Ok(account)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

/// Keys a token refresh writes sealed (with the tokens) that are not secrets, so the view
/// shows their current value rather than the one imported with the account.
const REFRESHED_PUBLIC: &[&str] = &["expires_at"];

/// The Truto-shaped JSON view of an account: never any secret.
pub fn view(keyring: &Keyring, record: &AccountRecord, integration: Option<&Integration>) -> Value {
    use crate::catalog::types::CredentialFormat;
    let mut context = record.context.clone();
    // An account stored before a rule sealed one of its keys (Confluent's `api_key` was
    // public once) still never shows it; a PATCH of its context seals it in the store.
    if let Value::Object(public) = &mut context {
        public.retain(|k, v| !looks_secret(k) && !holds_secret(v));
    }
    // Only OAuth accounts are refreshed, so only theirs are opened (a list of API-key
    // accounts decrypts nothing); a key the integration declares secret is never shown.
    let refreshed = integration.filter(|i| {
        matches!(
            i.config.credentials.format,
            CredentialFormat::Oauth2 | CredentialFormat::Oauth2ClientCredentials
        )
    });
    if let (Some(integration), Value::Object(shown)) = (refreshed, &mut context) {
        if let Ok(sealed) = open_secrets(keyring, record) {
            let secret: Vec<&str> = integration.secret_fields().collect();
            for key in REFRESHED_PUBLIC.iter().filter(|k| !secret.contains(k)) {
                if let Some(v) = sealed.get(*key) {
                    shown.insert((*key).to_string(), v.clone());
                }
            }
        }
    }
    json!({
        "id": record.id,
        "tenant_id": record.tenant_id,
        "environment_integration_id": record.integration,
        "integration": {
            "name": record.integration,
            "label": integration.map(|i| i.config.label.clone()),
        },
        "authentication_method": integration.map(|i| i.config.credentials.format),
        "context": context,
        "status": record.status,
        "last_error": record.last_error,
        "is_sandbox": record.is_sandbox,
        "unified_model_override": record.unified_model_override,
        "created_at": record.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "updated_at": record.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// Builds a new account record from an import request's parts.
pub fn new_record(
    keyring: &Keyring,
    integration: &Integration,
    environment_id: &str,
    tenant_id: &str,
    context: Map<String, Value>,
    is_sandbox: bool,
) -> Result<AccountRecord, ApiError> {
    check_required(integration, &context)?;
    let id = uuid::Uuid::new_v4().to_string();
    let (public, secret) = split_context(integration, context);
    let now = Utc::now();
    Ok(AccountRecord {
        secrets: seal_secrets(keyring, &id, &secret),
        id,
        environment_id: environment_id.to_string(),
        tenant_id: tenant_id.to_string(),
        integration: integration.name().to_string(),
        context: Value::Object(public),
        status: AccountStatus::Active,
        last_error: None,
        is_sandbox,
        created_at: now,
        updated_at: now,
        unified_model_override: None,
        overrides_version: 0,
    })
}

/// What `unigate keys rotate` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotation {
    pub accounts: u64,
    pub resealed: u64,
}

/// Re-seals every account's secrets under the keyring's primary key; values already under
/// it are left alone, so the command can be re-run after an interruption. Each account is
/// written on its own: a failure leaves every account readable with the keys configured.
/// Only the sealed secrets are written, and only if unchanged since they were read: when a
/// running gateway refreshed a token or an admin edited the account meanwhile, the account
/// is read again and resealed from its new value, never overwritten with the old one.
pub async fn rotate_all(store: &dyn crate::store::Store, keyring: &Keyring) -> Result<Rotation, anyhow::Error> {
    let mut report = Rotation::default();
    let mut after: Option<String> = None;
    loop {
        let batch = store.list_all_accounts(after.as_deref(), 500).await?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        for record in batch {
            report.accounts += 1;
            if reseal(store, keyring, record).await? {
                report.resealed += 1;
            }
        }
    }
    Ok(report)
}

/// How often one account is read again when its secrets changed under a reseal.
const RESEAL_ATTEMPTS: usize = 20;

/// Reseals one account, read as `record`, under the primary key; false when there was nothing
/// to do (already under it, or deleted meanwhile).
pub async fn reseal(
    store: &dyn crate::store::Store,
    keyring: &Keyring,
    mut record: AccountRecord,
) -> Result<bool, anyhow::Error> {
    for _ in 0..RESEAL_ATTEMPTS {
        if Keyring::key_id_of(&record.secrets) == Some(keyring.primary_key_id()) {
            return Ok(false);
        }
        let plain = keyring
            .open(&record.secrets, record.id.as_bytes())
            .map_err(|e| anyhow::anyhow!("account {}: {e}", record.id))?;
        let sealed = keyring.seal(&plain, record.id.as_bytes());
        if store
            .reseal_secrets(&record.environment_id, &record.id, &record.secrets, &sealed)
            .await?
        {
            return Ok(true);
        }
        match store.get_account(&record.environment_id, &record.id).await? {
            Some(fresh) => record = fresh,
            None => return Ok(false),
        }
    }
    anyhow::bail!(
        "account {}: its secrets kept changing during the rotation; run `unigate keys rotate` again",
        record.id
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(keyring: &Keyring, id: &str, token: &str) -> AccountRecord {
        let mut secrets = Map::new();
        secrets.insert("access_token".into(), Value::String(token.into()));
        AccountRecord {
            id: id.into(),
            environment_id: "env".into(),
            tenant_id: "t".into(),
            integration: "github".into(),
            context: json!({"org": "octo-org"}),
            secrets: seal_secrets(keyring, id, &secrets),
            status: AccountStatus::Active,
            last_error: None,
            is_sandbox: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            unified_model_override: None,
            overrides_version: 0,
        }
    }

    /// An unchanged record gets the context built before; any change of the record (a
    /// refreshed token is a new seal), or a reloaded catalog, builds it again.
    #[test]
    fn opened_accounts_serve_only_the_record_and_integration_they_were_built_from() {
        let keyring = Keyring::from_key([7; 32]);
        let registry = crate::catalog::load_registry(None).unwrap();
        let github = registry.integration("github").unwrap().clone();
        let opened = Opened::default();
        let first = record(&keyring, "a1", "gho_one");

        let a = opened.load(&keyring, &github, first.clone()).unwrap();
        assert_eq!(a.context["access_token"], "gho_one");
        assert_eq!(a.context["org"], "octo-org");
        assert!(a.public_context.get("access_token").is_none(), "{}", a.public_context);
        let again = opened.load(&keyring, &github, first.clone()).unwrap();
        assert!(
            Arc::ptr_eq(&a.context, &again.context),
            "an equal record reuses the context"
        );
        // The very record the store's cache handed out before is told by pointer.
        let same = opened.load(&keyring, &github, Arc::clone(&again.record)).unwrap();
        assert!(Arc::ptr_eq(&same.context, &a.context));
        assert!(Arc::ptr_eq(&same.record, &again.record));

        let refreshed = AccountRecord {
            secrets: record(&keyring, "a1", "gho_two").secrets,
            ..first.clone()
        };
        let b = opened.load(&keyring, &github, refreshed).unwrap();
        assert_eq!(b.context["access_token"], "gho_two");

        let moved = AccountRecord {
            context: json!({"org": "other-org"}),
            ..first.clone()
        };
        assert_eq!(
            opened.load(&keyring, &github, moved).unwrap().context["org"],
            "other-org"
        );

        let reloaded = crate::catalog::load_registry(None)
            .unwrap()
            .integration("github")
            .unwrap()
            .clone();
        let c = opened.load(&keyring, &reloaded, first.clone()).unwrap();
        assert!(!Arc::ptr_eq(&a.context, &c.context), "another integration builds again");
        assert_eq!(opened.len(), 1);

        // A seal that does not open is an error, never a kept context.
        let broken = AccountRecord {
            secrets: "v1.garbage".into(),
            ..first
        };
        assert!(opened.load(&keyring, &reloaded, broken).is_err());
    }
}
