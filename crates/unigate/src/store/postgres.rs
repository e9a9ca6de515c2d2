//! The scale-out backend: PostgreSQL, shared by any number of stateless instances.
//!
//! Same behaviour as [`super::sqlite`]; the differences are types (TIMESTAMPTZ, JSONB,
//! BOOLEAN) and placeholders. Timestamps are truncated to microseconds before they are
//! written, which is PostgreSQL's precision, so keyset cursors compare exactly.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};

use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PgStore {
    pool: PgPool,
}

#[derive(Debug, Clone)]
pub struct PgOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub statement_timeout_ms: u64,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout_ms: 10_000,
        }
    }
}

impl PgStore {
    /// Connects (lazily: an unreachable database at start is retried per request, so the
    /// instance recovers by itself) and applies pending migrations.
    pub async fn connect(url: &str, opts: &PgOptions) -> Result<Self, StoreError> {
        let connect: PgConnectOptions = url.parse()?;
        let connect = connect.options([("statement_timeout", opts.statement_timeout_ms.to_string())]);
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            .acquire_timeout(opts.acquire_timeout)
            .test_before_acquire(true)
            .connect_with(connect)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool })
    }
}

fn micros(t: &DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

fn account_from_row(row: &PgRow) -> Result<AccountRecord, StoreError> {
    Ok(AccountRecord {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        tenant_id: row.try_get("tenant_id")?,
        integration: row.try_get("integration")?,
        context: row.try_get::<sqlx::types::Json<serde_json::Value>, _>("context")?.0,
        secrets: row.try_get("secrets")?,
        status: row.try_get("status")?,
        last_error: row.try_get("last_error")?,
        is_sandbox: row.try_get("is_sandbox")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn link_token_from_row(row: &PgRow) -> Result<LinkTokenRecord, StoreError> {
    Ok(LinkTokenRecord {
        token_hash: row.try_get("token_hash")?,
        environment_id: row.try_get("environment_id")?,
        tenant_id: row.try_get("tenant_id")?,
        integration: row.try_get("integration")?,
        redirect_uri: row.try_get("redirect_uri")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn request_log_from_row(row: &PgRow) -> Result<RequestLogRecord, StoreError> {
    Ok(RequestLogRecord {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        integrated_account_id: row.try_get("integrated_account_id")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        status: row.try_get::<i64, _>("status")? as u16,
        duration_ms: row.try_get::<i64, _>("duration_ms")?.max(0) as u64,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait]
impl Store for PgStore {
    async fn idempotency_begin(
        &self,
        environment_id: &str,
        key: &str,
        request_hash: &str,
        ttl: chrono::Duration,
    ) -> Result<IdempotencyBegin, StoreError> {
        let now = micros(&Utc::now());
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE environment_id = $1 AND key = $2 AND expires_at < $3")
            .bind(environment_id)
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (environment_id, key, request_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (environment_id, key) DO NOTHING",
        )
        .bind(environment_id)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .bind(now + ttl)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let outcome = if inserted {
            IdempotencyBegin::Started
        } else {
            let row = sqlx::query(
                "SELECT request_hash, status_code, content_type, body FROM idempotency_keys WHERE environment_id = $1 AND key = $2",
            )
            .bind(environment_id)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            idempotency_outcome(
                request_hash,
                row.try_get("request_hash")?,
                row.try_get::<Option<i32>, _>("status_code")?.map(i64::from),
                row.try_get("content_type")?,
                row.try_get("body")?,
            )
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn idempotency_finish(
        &self,
        environment_id: &str,
        key: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE idempotency_keys SET status_code = $1, content_type = $2, body = $3 WHERE environment_id = $4 AND key = $5")
            .bind(status as i32)
            .bind(content_type)
            .bind(body)
            .bind(environment_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn idempotency_abort(&self, environment_id: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE environment_id = $1 AND key = $2 AND status_code IS NULL")
            .bind(environment_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn first_environment(&self) -> Result<Option<Environment>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM environments ORDER BY created_at LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Environment {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    async fn create_environment(&self, name: &str) -> Result<Environment, StoreError> {
        let env = Environment {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            created_at: micros(&Utc::now()),
        };
        sqlx::query("INSERT INTO environments (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&env.id)
            .bind(&env.name)
            .bind(env.created_at)
            .execute(&self.pool)
            .await?;
        Ok(env)
    }

    async fn create_api_token(
        &self,
        environment_id: &str,
        name: &str,
        token_hash: &str,
    ) -> Result<ApiTokenRecord, StoreError> {
        let rec = ApiTokenRecord {
            id: uuid::Uuid::new_v4().to_string(),
            environment_id: environment_id.to_string(),
            name: name.to_string(),
            created_at: micros(&Utc::now()),
        };
        sqlx::query(
            "INSERT INTO api_tokens (id, environment_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&rec.id)
        .bind(&rec.environment_id)
        .bind(&rec.name)
        .bind(token_hash)
        .bind(rec.created_at)
        .execute(&self.pool)
        .await?;
        Ok(rec)
    }

    async fn environment_for_token(&self, token_hash: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT environment_id FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("environment_id")).transpose()?)
    }

    async fn insert_account(&self, a: &AccountRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO integrated_accounts (id, environment_id, tenant_id, integration, context, secrets, status, last_error, is_sandbox, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&a.id)
        .bind(&a.environment_id)
        .bind(&a.tenant_id)
        .bind(&a.integration)
        .bind(sqlx::types::Json(&a.context))
        .bind(&a.secrets)
        .bind(&a.status)
        .bind(&a.last_error)
        .bind(a.is_sandbox)
        .bind(micros(&a.created_at))
        .bind(micros(&a.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_account(&self, environment_id: &str, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM integrated_accounts WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn list_accounts(
        &self,
        environment_id: &str,
        filter: &AccountFilter,
        after: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let mut qb =
            sqlx::QueryBuilder::<sqlx::Postgres>::new("SELECT * FROM integrated_accounts WHERE environment_id = ");
        qb.push_bind(environment_id);
        if let Some(t) = &filter.tenant_id {
            qb.push(" AND tenant_id = ").push_bind(t);
        }
        if let Some(i) = &filter.integration {
            qb.push(" AND integration = ").push_bind(i);
        }
        if let Some(s) = &filter.status {
            qb.push(" AND status = ").push_bind(s);
        }
        if let Some(s) = filter.is_sandbox {
            qb.push(" AND is_sandbox = ").push_bind(s);
        }
        if let Some(pos) = after {
            qb.push(" AND (created_at, id) > (")
                .push_bind(micros(&pos.created_at))
                .push(", ")
                .push_bind(&pos.id)
                .push(")");
        }
        qb.push(" ORDER BY created_at, id LIMIT ").push_bind(limit as i64);
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn update_account(&self, a: &AccountRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE integrated_accounts SET tenant_id = $1, context = $2, secrets = $3, status = $4, last_error = $5, updated_at = $6 \
             WHERE environment_id = $7 AND id = $8",
        )
        .bind(&a.tenant_id)
        .bind(sqlx::types::Json(&a.context))
        .bind(&a.secrets)
        .bind(&a.status)
        .bind(&a.last_error)
        .bind(micros(&a.updated_at))
        .bind(&a.environment_id)
        .bind(&a.id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_account_credentials(&self, a: &AccountRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE integrated_accounts SET secrets = $1, status = $2, last_error = $3, updated_at = $4 WHERE environment_id = $5 AND id = $6",
        )
        .bind(&a.secrets)
        .bind(&a.status)
        .bind(&a.last_error)
        .bind(micros(&a.updated_at))
        .bind(&a.environment_id)
        .bind(&a.id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn try_lock_refresh(&self, account_id: &str, holder: &str, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let now = Utc::now();
        let done = sqlx::query(
            "INSERT INTO refresh_locks (account_id, holder, expires_at) VALUES ($1, $2, $3) ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at WHERE refresh_locks.expires_at < $4",
        )
        .bind(account_id)
        .bind(holder)
        .bind(micros(&until))
        .bind(micros(&now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn unlock_refresh(&self, account_id: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM refresh_locks WHERE account_id = $1 AND holder = $2")
            .bind(account_id)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_link_token(&self, t: &LinkTokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO link_tokens (token_hash, environment_id, tenant_id, integration, redirect_uri, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.token_hash)
        .bind(&t.environment_id)
        .bind(&t.tenant_id)
        .bind(&t.integration)
        .bind(&t.redirect_uri)
        .bind(micros(&t.created_at))
        .bind(micros(&t.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_link_token(&self, token_hash: &str) -> Result<Option<LinkTokenRecord>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM link_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
                .bind(token_hash)
                .bind(micros(&Utc::now()))
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(link_token_from_row).transpose()
    }

    async fn consume_link_token(&self, token_hash: &str) -> Result<Option<LinkTokenRecord>, StoreError> {
        let now = Utc::now();
        let row = sqlx::query(
            "UPDATE link_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $3 RETURNING *",
        )
        .bind(micros(&now))
        .bind(token_hash)
        .bind(micros(&now))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(link_token_from_row).transpose()
    }

    async fn insert_request_logs(&self, entries: &[RequestLogRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Many rows per statement: one round trip to the database per chunk, not per row.
        for chunk in request_log_chunks(entries) {
            request_log_insert(chunk, micros).build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_request_logs(
        &self,
        environment_id: &str,
        integrated_account_id: Option<&str>,
        before: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<RequestLogRecord>, StoreError> {
        let far = AccountPosition {
            created_at: Utc::now() + chrono::Duration::days(36500),
            id: String::new(),
        };
        let before = before.unwrap_or(&far);
        let rows = sqlx::query(
            "SELECT * FROM request_logs WHERE environment_id = $1 AND ($2 IS NULL OR integrated_account_id = $3) AND (created_at < $4 OR (created_at = $5 AND id < $6)) ORDER BY created_at DESC, id DESC LIMIT $7",
        )
        .bind(environment_id)
        .bind(integrated_account_id)
        .bind(integrated_account_id)
        .bind(micros(&before.created_at))
        .bind(micros(&before.created_at))
        .bind(&before.id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_log_from_row).collect()
    }

    async fn prune_request_logs(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM request_logs WHERE created_at < $1")
            .bind(micros(&before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn list_all_accounts(&self, after_id: Option<&str>, limit: u32) -> Result<Vec<AccountRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM integrated_accounts WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after_id.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn delete_account(&self, environment_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM integrated_accounts WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn reserve_rate_slot(&self, key: &str, lanes: BudgetLanes, max_wait_ms: u64) -> Result<RateSlot, StoreError> {
        let spacing = i64::try_from(lanes.spacing_ms).unwrap_or(i64::MAX / 4);
        let max_wait = i64::try_from(max_wait_ms).unwrap_or(i64::MAX / 4);
        let count = i32::try_from(lanes.lanes).unwrap_or(i32::MAX);
        for _ in 0..RESERVE_ATTEMPTS {
            // The database's clock, so instances with skewed clocks still share one timeline.
            // The least recently used lane that no concurrent reservation holds moves on by
            // one spacing, unless that start is too far away.
            let granted: Option<i64> = sqlx::query_scalar(
                "WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms), \
                      pick AS (SELECT lane FROM rate_budget_lanes WHERE budget_key = $1 AND lane < $2 \
                               ORDER BY last_ms, lane LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 UPDATE rate_budget_lanes l SET last_ms = GREATEST(clock.now_ms, l.last_ms + $3) \
                 FROM pick, clock \
                 WHERE l.budget_key = $1 AND l.lane = pick.lane \
                   AND GREATEST(clock.now_ms, l.last_ms + $3) <= clock.now_ms + $4 \
                 RETURNING l.last_ms - clock.now_ms",
            )
            .bind(key)
            .bind(count)
            .bind(spacing)
            .bind(max_wait)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(wait) = granted {
                return Ok(RateSlot::Granted {
                    wait_ms: u64::try_from(wait).unwrap_or(0),
                });
            }
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, MIN(last_ms) AS earliest, \
                        (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms \
                 FROM rate_budget_lanes WHERE budget_key = $1 AND lane < $2",
            )
            .bind(key)
            .bind(count)
            .fetch_one(&self.pool)
            .await?;
            let (n, earliest, now): (i64, Option<i64>, i64) =
                (row.try_get("n")?, row.try_get("earliest")?, row.try_get("now_ms")?);
            if n < i64::from(count) {
                // First use of this budget (or a larger one): create its lanes, then retry.
                sqlx::query(
                    "INSERT INTO rate_budget_lanes (budget_key, lane, last_ms) \
                     SELECT $1, g, 0 FROM generate_series(0, $2 - 1) AS g ON CONFLICT DO NOTHING",
                )
                .bind(key)
                .bind(count)
                .execute(&self.pool)
                .await?;
                continue;
            }
            let retry_after = earliest.unwrap_or(now).saturating_add(spacing).saturating_sub(now);
            if retry_after > max_wait {
                return Ok(RateSlot::Exhausted {
                    retry_after_ms: u64::try_from(retry_after).unwrap_or(0),
                });
            }
            // Every free-enough lane was held by a concurrent reservation: try again.
        }
        Ok(RateSlot::Exhausted {
            retry_after_ms: lanes.spacing_ms.min(1000),
        })
    }
}

/// How often a reservation is tried again when it lost a race for a lane.
const RESERVE_ATTEMPTS: usize = 8;
