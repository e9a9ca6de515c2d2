//! The PostgreSQL backend's cache of the account records unified calls read, kept true by
//! the database's notifications, so that a call costs no statement when its account has not
//! changed.
//!
//! Every change to an account row, and every change of an environment's override version,
//! fires a trigger (migration `postgres/0010`) that notifies the channel [`CHANNEL`], from
//! whichever instance (or `psql` session) made it. Each instance listens on its own
//! connection and forgets the account named, or everything on `*`. The rules that keep a
//! stale record from being served:
//! - The cache is used only while the listener is connected. When the connection drops,
//!   the cache is emptied and switched off (calls read the database, as without a cache)
//!   until a new listener is in place; notifications sent meanwhile are lost, so the cache
//!   starts empty again.
//! - A record read from the database is remembered only if no change was heard while it
//!   was being read (the generation did not move), so a read that raced a change cannot
//!   put the older row back after the notification forgot it.
//! - This instance's own writes forget at once, before the write answers, so a client sees
//!   its own change on its next call whatever the notification's delay.
//!
//! What remains is the delivery delay of a notification sent by another instance:
//! PostgreSQL sends it when the change commits, and this instance applies it when its
//! listener task reads it (well under a millisecond on a local network). A call that
//! reaches this instance inside that window is served the record as it was before the
//! change. Only the unified pipeline's reads ([`super::Store::get_account_for_call`]) use
//! the cache; the admin API and the OAuth refresh read the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::AccountRecord;

/// The channel the triggers notify; the payload is an account id, or `*` for every account.
pub const CHANNEL: &str = "unigate_accounts";

/// At most this many records are kept; the cache is emptied when it is full (memory stays
/// bounded whatever the number of accounts; a busy account is read again on its next call).
const CAPACITY: usize = 10_000;

/// How long the listener waits before connecting again after it lost its connection.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct AccountCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// True while a listener is connected and listening.
    live: bool,
    /// Moves on with every change heard, every local write and every listener loss.
    generation: u64,
    /// By account id (ids are unique across environments); the environment is checked on
    /// each hit.
    accounts: HashMap<String, Arc<AccountRecord>>,
    /// Lookups answered from the cache, and those that read the database while it was live.
    hits: u64,
    misses: u64,
}

/// What the cache holds and did, for the metrics ([`super::Store::account_cache`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub live: bool,
    pub entries: usize,
    pub hits: u64,
    pub misses: u64,
}

/// What [`AccountCache::lookup`] found.
pub enum Lookup {
    Hit(Arc<AccountRecord>),
    /// Not cached: read the database, then [`AccountCache::remember`] the record with this
    /// ticket (`None` while the cache is off).
    Miss(Option<u64>),
}

impl AccountCache {
    pub fn lookup(&self, environment_id: &str, id: &str) -> Lookup {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.live {
            return Lookup::Miss(None);
        }
        let found = match state.accounts.get(id) {
            Some(record) if record.environment_id == environment_id => Some(Arc::clone(record)),
            _ => None,
        };
        match found {
            Some(record) => {
                state.hits += 1;
                Lookup::Hit(record)
            }
            None => {
                state.misses += 1;
                Lookup::Miss(Some(state.generation))
            }
        }
    }

    pub fn stats(&self) -> CacheStats {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        CacheStats {
            live: state.live,
            entries: state.accounts.len(),
            hits: state.hits,
            misses: state.misses,
        }
    }

    /// Keeps `record`, read from the database under `ticket`, unless a change was heard since.
    pub fn remember(&self, ticket: Option<u64>, record: &Arc<AccountRecord>) {
        let Some(ticket) = ticket else { return };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.live || state.generation != ticket {
            return;
        }
        if state.accounts.len() >= CAPACITY {
            state.accounts.clear();
        }
        state.accounts.insert(record.id.clone(), Arc::clone(record));
    }

    /// A change heard or made: `id`, or every account for `*` (or `None`).
    pub fn forget(&self, id: Option<&str>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.generation += 1;
        match id {
            Some(id) if id != "*" => {
                state.accounts.remove(id);
            }
            _ => state.accounts.clear(),
        }
    }

    fn set_live(&self, live: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.generation += 1;
        state.accounts.clear();
        state.live = live;
    }
}

/// Listens on [`CHANNEL`] for as long as `cache` is alive, reconnecting after a loss. Runs
/// as a task of the runtime that opened the store.
pub async fn listen(pool: sqlx::PgPool, cache: Weak<AccountCache>) {
    let mut logged_failure = false;
    loop {
        let Some(live) = cache.upgrade() else { return };
        match subscribe(&pool).await {
            Ok(mut listener) => {
                live.set_live(true);
                if logged_failure {
                    tracing::info!("account cache: listening again for account changes");
                    logged_failure = false;
                }
                drop(live);
                let lost = follow(&mut listener, &cache).await;
                let Some(live) = cache.upgrade() else { return };
                live.set_live(false);
                if let Some(e) = lost {
                    tracing::warn!(error = %e, "account cache: lost the notification listener; calls read the database until it is back");
                    logged_failure = true;
                }
            }
            Err(e) => {
                if !logged_failure {
                    tracing::warn!(error = %e, "account cache: cannot listen for account changes; calls read the database");
                    logged_failure = true;
                }
            }
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn subscribe(pool: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Applies notifications until the connection is lost (its error, or `None` when the
/// connection closed without one) or the cache is dropped (`None`).
async fn follow(listener: &mut sqlx::postgres::PgListener, cache: &Weak<AccountCache>) -> Option<sqlx::Error> {
    // Checked now and then, so a dropped store does not keep its listener's connection open.
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            next = listener.try_recv() => match next {
                Ok(Some(note)) => {
                    let cache = cache.upgrade()?;
                    cache.forget(Some(note.payload()));
                }
                Ok(None) => return None,
                Err(e) => return Some(e),
            },
            _ = tick.tick() => {
                cache.upgrade()?;
            }
        }
    }
}

/// Starts the listener for a new cache over `pool`.
pub fn start(pool: &sqlx::PgPool) -> Arc<AccountCache> {
    let cache = Arc::new(AccountCache::default());
    tokio::spawn(listen(pool.clone(), Arc::downgrade(&cache)));
    cache
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(id: &str, tenant: &str) -> Arc<AccountRecord> {
        let now = chrono::Utc::now();
        Arc::new(AccountRecord {
            id: id.into(),
            environment_id: "env".into(),
            tenant_id: tenant.into(),
            integration: "github".into(),
            context: serde_json::json!({}),
            secrets: String::new(),
            status: super::super::AccountStatus::Active,
            last_error: None,
            is_sandbox: false,
            created_at: now,
            updated_at: now,
            unified_model_override: None,
            overrides_version: 0,
        })
    }

    fn hit(cache: &AccountCache, env: &str, id: &str) -> Option<String> {
        match cache.lookup(env, id) {
            Lookup::Hit(r) => Some(r.tenant_id.clone()),
            Lookup::Miss(_) => None,
        }
    }

    fn ticket(cache: &AccountCache, id: &str) -> Option<u64> {
        match cache.lookup("env", id) {
            Lookup::Miss(t) => t,
            Lookup::Hit(_) => panic!("{id} is cached"),
        }
    }

    #[test]
    fn off_until_a_listener_is_in_place() {
        let cache = AccountCache::default();
        assert_eq!(ticket(&cache, "a"), None);
        cache.remember(Some(0), &record("a", "t"));
        assert_eq!(hit(&cache, "env", "a"), None);
        cache.set_live(true);
        let t = ticket(&cache, "a");
        cache.remember(t, &record("a", "t"));
        assert_eq!(hit(&cache, "env", "a").as_deref(), Some("t"));
        assert_eq!(
            cache.stats(),
            CacheStats {
                live: true,
                entries: 1,
                hits: 1,
                misses: 1
            }
        );
        // Another environment's call does not see it.
        assert_eq!(hit(&cache, "other", "a"), None);
        // A lost listener empties and switches off.
        cache.set_live(false);
        assert_eq!(hit(&cache, "env", "a"), None);
        assert_eq!(ticket(&cache, "a"), None);
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_remembered() {
        let cache = AccountCache::default();
        cache.set_live(true);
        let before = ticket(&cache, "a");
        // The change is heard while the read is in flight: the older row must not stay.
        cache.forget(Some("a"));
        cache.remember(before, &record("a", "old"));
        assert_eq!(hit(&cache, "env", "a"), None);
        let after = ticket(&cache, "a");
        cache.remember(after, &record("a", "new"));
        assert_eq!(hit(&cache, "env", "a").as_deref(), Some("new"));
    }

    #[test]
    fn forget_one_or_all() {
        let cache = AccountCache::default();
        cache.set_live(true);
        for id in ["a", "b"] {
            let t = ticket(&cache, id);
            cache.remember(t, &record(id, id));
        }
        cache.forget(Some("a"));
        assert_eq!(hit(&cache, "env", "a"), None);
        assert_eq!(hit(&cache, "env", "b").as_deref(), Some("b"));
        cache.forget(Some("*"));
        assert_eq!(hit(&cache, "env", "b"), None);
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = AccountCache::default();
        cache.set_live(true);
        for i in 0..=CAPACITY {
            let id = i.to_string();
            let t = ticket(&cache, &id);
            cache.remember(t, &record(&id, "t"));
        }
        let state = cache.state.lock().unwrap();
        assert_eq!(state.accounts.len(), 1, "emptied at capacity, then the last one kept");
    }
}
