//! Resolving the integrated account of a call, shared by unified and Proxy API calls: the
//! account's record in the token's environment, its integration in the catalog, what the
//! call needs of that integration, then the account's state and fresh credentials.

use std::sync::Arc;

use tracing::Instrument as _;

use crate::accounts::Account;
use crate::catalog::overrides::AccountOverrides;
use crate::catalog::Integration;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AccountRecord, AccountStatus};

/// The account `account_id` of `environment_id` with its integration, ready to call, and
/// what `pick` takes from the integration (a mapping, a raw resource) given the mapping
/// overrides of the account and its environment, if there are any. The checks run in
/// this order, so a client learns first what it can fix itself: an unknown account (404),
/// an integration missing from the catalog (404), `pick`'s refusal (an unsupported
/// method), an account that needs re-authorization (401); then the credentials are
/// decrypted and, for OAuth, refreshed when due.
/// Runs in the span `account.load` (traces), with the store's reads in their own.
pub(super) async fn resolve<T>(
    state: &AppState,
    environment_id: &str,
    account_id: &str,
    pick: impl FnOnce(&Arc<Integration>, Option<&AccountOverrides>) -> Result<T, ApiError>,
) -> Result<(Arc<Integration>, Account, T), ApiError> {
    let span = tracing::info_span!(
        target: "unigate_otel",
        "account.load",
        unigate.integration = tracing::field::Empty
    );
    // Not wrapped when disabled (traces off): wrapping moves the whole loading future once
    // more, which a call pays for even with no span.
    if span.is_disabled() {
        return load(state, environment_id, account_id, pick, &span).await;
    }
    load(state, environment_id, account_id, pick, &span)
        .instrument(span.clone())
        .await
}

async fn load<T>(
    state: &AppState,
    environment_id: &str,
    account_id: &str,
    pick: impl FnOnce(&Arc<Integration>, Option<&AccountOverrides>) -> Result<T, ApiError>,
    span: &tracing::Span,
) -> Result<(Arc<Integration>, Account, T), ApiError> {
    let record = state
        .store
        .get_account_for_call(environment_id, account_id)
        .instrument(tracing::info_span!(target: "unigate_otel", "store.get_account"))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Integrated account `{account_id}` not found.")))?;
    let integration = state
        .registry()
        .integration(&record.integration)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "The integration `{}` of this integrated account is not in the catalog.",
                record.integration
            ))
        })?;
    span.record("unigate.integration", integration.name());
    let overrides = overrides(state, &record).await?;
    let picked = pick(&integration, overrides.as_ref())?;
    if record.status == AccountStatus::NeedsReauth {
        return Err(crate::accounts::oauth::needs_reauth(&record));
    }
    let account = state.opened.load(&state.keyring, &integration, record)?;
    let account = state.oauth.ensure_fresh(&integration, account).await?;
    Ok((integration, account, picked))
}

/// The overrides that may apply to a call on this account: `None`, without touching the
/// store, when neither the account nor its environment has any (the common case). The
/// environment's rows are read once per version of them.
async fn overrides(state: &AppState, record: &AccountRecord) -> Result<Option<AccountOverrides>, ApiError> {
    if record.overrides_version == 0 && record.unified_model_override.is_none() {
        return Ok(None);
    }
    let environment = match state
        .overrides
        .environment(&record.environment_id, record.overrides_version)
    {
        Some(rows) => rows,
        None if record.overrides_version == 0 => Arc::default(),
        None => {
            let rows = state
                .store
                .list_mapping_overrides(&record.environment_id)
                .instrument(tracing::info_span!(target: "unigate_otel", "store.list_mapping_overrides"))
                .await?;
            let rows = Arc::new(rows);
            state
                .overrides
                .put_environment(&record.environment_id, record.overrides_version, rows.clone());
            rows
        }
    };
    Ok(Some(AccountOverrides {
        environment_id: record.environment_id.clone(),
        environment_version: record.overrides_version,
        environment,
        account_id: record.id.clone(),
        account_version: record.updated_at,
        account: record.unified_model_override.clone(),
    }))
}
