//! The [`Store`] of both SQL backends, written once.
//!
//! The two schemas have the same tables and columns; they differ in how a timestamp, a JSON
//! document and a boolean are stored, and in what SQL each can run for the rate-limit lanes.
//! [`SqlStore`] holds the queries, in a text both accept (`$n` placeholders, which sqlx's
//! SQLite driver also reads); a [`Dialect`] holds the differences.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Type};

use super::dialect::{AccountRow, DbRow, Dialect};
use super::*;

/// A store on one SQL database: the pool and the backend's [`Dialect`].
pub struct SqlStore<D: Dialect> {
    pub(super) pool: Pool<D::Db>,
    pub(super) dialect: D,
}

/// An account row's columns, with its environment's overrides version.
const ACCOUNT_COLUMNS: &str = "*, (SELECT e.overrides_version FROM environments e \
     WHERE e.id = integrated_accounts.environment_id) AS overrides_version";

/// Now, at the precision both backends keep (PostgreSQL's microseconds), so a record
/// returned by a write is equal to the same record read back.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'a> &'a str: ColumnIndex<DbRow<D>>,
    String: for<'r> Decode<'r, D::Db> + Type<D::Db>,
    i64: for<'r> Decode<'r, D::Db> + Type<D::Db>,
    bool: for<'r> Decode<'r, D::Db> + Type<D::Db>,
{
    /// What a `DELETE ... RETURNING entry_count` of request-log batches removed.
    fn log_deleted(rows: &[DbRow<D>]) -> Result<LogDeleted, StoreError> {
        let mut deleted = LogDeleted::default();
        for row in rows {
            deleted.batches += 1;
            deleted.entries += u64::try_from(row.try_get::<i64, _>("entry_count")?).unwrap_or(0);
        }
        Ok(deleted)
    }

    fn environment_from_row(r: &DbRow<D>) -> Result<Environment, StoreError> {
        Ok(Environment {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            created_at: D::from_time(r.try_get("created_at")?)?,
        })
    }

    fn api_token_from_row(r: &DbRow<D>) -> Result<ApiTokenRecord, StoreError> {
        Ok(ApiTokenRecord {
            id: r.try_get("id")?,
            environment_id: r.try_get("environment_id")?,
            name: r.try_get("name")?,
            scope: scope_from(&r.try_get::<String, _>("scope")?)?,
            created_at: D::from_time(r.try_get("created_at")?)?,
        })
    }

    pub(super) fn account_from_row(row: &DbRow<D>) -> Result<AccountRecord, StoreError> {
        AccountRow::<D> {
            id: row.try_get("id")?,
            environment_id: row.try_get("environment_id")?,
            tenant_id: row.try_get("tenant_id")?,
            integration: row.try_get("integration")?,
            context: row.try_get("context")?,
            secrets: row.try_get("secrets")?,
            status: row.try_get("status")?,
            last_error: row.try_get("last_error")?,
            is_sandbox: row.try_get("is_sandbox")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            unified_model_override: row.try_get("unified_model_override")?,
            overrides_version: row.try_get("overrides_version")?,
        }
        .decode()
    }

    fn link_token_from_row(row: &DbRow<D>) -> Result<LinkTokenRecord, StoreError> {
        Ok(LinkTokenRecord {
            token_hash: row.try_get("token_hash")?,
            environment_id: row.try_get("environment_id")?,
            tenant_id: row.try_get("tenant_id")?,
            integration: row.try_get("integration")?,
            redirect_uri: row.try_get("redirect_uri")?,
            created_at: D::from_time(row.try_get("created_at")?)?,
            expires_at: D::from_time(row.try_get("expires_at")?)?,
        })
    }

    fn mapping_override_from_row(row: &DbRow<D>) -> Result<MappingOverrideRecord, StoreError> {
        let config: String = row.try_get("config")?;
        Ok(MappingOverrideRecord {
            id: row.try_get("id")?,
            environment_id: row.try_get("environment_id")?,
            model: row.try_get("model")?,
            resource: row.try_get("resource")?,
            integration: row.try_get("integration")?,
            method: row.try_get("method")?,
            config: serde_json::from_str(&config)
                .map_err(|e| StoreError::Corrupt(format!("mapping override config: {e}")))?,
            created_at: D::from_time(row.try_get("created_at")?)?,
            updated_at: D::from_time(row.try_get("updated_at")?)?,
        })
    }
}

impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> <D::Db as Database>::Arguments<'q>: IntoArguments<'q, D::Db>,
    for<'a> &'a str: ColumnIndex<DbRow<D>> + Encode<'a, D::Db> + Type<D::Db>,
    String: for<'r> Decode<'r, D::Db> + Type<D::Db>,
    i64: for<'r> Decode<'r, D::Db> + Type<D::Db>,
    bool: for<'r> Decode<'r, D::Db> + Type<D::Db>,
{
    /// The account `id` read through the pool.
    async fn read_account(&self, environment_id: &str, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM integrated_accounts WHERE environment_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(environment_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::account_from_row).transpose()
    }
}

#[async_trait]
impl<D: Dialect> Store for SqlStore<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> <D::Db as Database>::Arguments<'q>: IntoArguments<'q, D::Db>,
    for<'a> &'a str: ColumnIndex<DbRow<D>> + Encode<'a, D::Db> + Type<D::Db>,
    for<'a> &'a [u8]: Encode<'a, D::Db> + Type<D::Db>,
    for<'a> Option<&'a str>: Encode<'a, D::Db> + Type<D::Db>,
    Option<String>: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    Option<D::Time>: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    Option<i64>: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    String: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    i64: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    bool: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    Vec<u8>: for<'r> Decode<'r, D::Db> + Type<D::Db>,
{
    async fn idempotency_begin(
        &self,
        environment_id: &str,
        key: &str,
        request_hash: &str,
        ttl: chrono::Duration,
    ) -> Result<IdempotencyBegin, StoreError> {
        let now = now();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE environment_id = $1 AND key = $2 AND expires_at < $3")
            .bind(environment_id)
            .bind(key)
            .bind(D::time(&now))
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO idempotency_keys (environment_id, key, request_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (environment_id, key) DO NOTHING",
        )
        .bind(environment_id)
        .bind(key)
        .bind(request_hash)
        .bind(D::time(&now))
        .bind(D::time(&(now + ttl)))
        .execute(&mut *tx)
        .await?;
        let outcome = if D::rows_affected(&done) == 1 {
            IdempotencyBegin::Started
        } else {
            // PostgreSQL's column is an INTEGER, SQLite's any integer: read both as 64 bits.
            let row = sqlx::query(
                "SELECT request_hash, CAST(status_code AS BIGINT) AS status_code, content_type, body \
                 FROM idempotency_keys WHERE environment_id = $1 AND key = $2",
            )
            .bind(environment_id)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            idempotency_outcome(
                request_hash,
                row.try_get("request_hash")?,
                row.try_get("status_code")?,
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
        sqlx::query(
            "UPDATE idempotency_keys SET status_code = CAST($1 AS INTEGER), content_type = $2, body = $3 \
             WHERE environment_id = $4 AND key = $5",
        )
        .bind(i64::from(status))
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
                created_at: D::from_time(r.try_get("created_at")?)?,
            })
        })
        .transpose()
    }

    async fn create_environment(&self, name: &str) -> Result<Environment, StoreError> {
        let env = Environment {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            created_at: now(),
        };
        sqlx::query("INSERT INTO environments (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(env.id.as_str())
            .bind(env.name.as_str())
            .bind(D::time(&env.created_at))
            .execute(&self.pool)
            .await?;
        Ok(env)
    }

    async fn list_environments(&self) -> Result<Vec<Environment>, StoreError> {
        let rows = sqlx::query("SELECT id, name, created_at FROM environments ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::environment_from_row).collect()
    }

    async fn get_environment(&self, id: &str) -> Result<Option<Environment>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM environments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::environment_from_row).transpose()
    }

    async fn delete_environment(&self, id: &str) -> Result<bool, StoreError> {
        // Rows that name the environment without a foreign key go first, in one transaction.
        let mut tx = self.pool.begin().await?;
        for table in [
            "request_log_batches",
            "idempotency_keys",
            "link_tokens",
            "mapping_overrides",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE environment_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for table in ["api_tokens", "integrated_accounts"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE environment_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM environments WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.dialect.accounts_changed(None);
        Ok(D::rows_affected(&done) == 1)
    }

    async fn count_accounts(&self, environment_id: &str) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM integrated_accounts WHERE environment_id = $1")
            .bind(environment_id)
            .fetch_one(&self.pool)
            .await?;
        let n: i64 = row.try_get("n")?;
        Ok(n.max(0) as u64)
    }

    async fn create_api_token(
        &self,
        environment_id: &str,
        name: &str,
        token_hash: &str,
        scope: TokenScope,
    ) -> Result<ApiTokenRecord, StoreError> {
        self.create_api_token_emitting(environment_id, name, token_hash, scope, &|_| Vec::new())
            .await
    }

    async fn create_api_token_emitting(
        &self,
        environment_id: &str,
        name: &str,
        token_hash: &str,
        scope: TokenScope,
        events: &(dyn for<'r> Fn(&'r ApiTokenRecord) -> Vec<NewEvent> + Send + Sync),
    ) -> Result<ApiTokenRecord, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rec = ApiTokenRecord {
            id: uuid::Uuid::new_v4().to_string(),
            environment_id: environment_id.to_string(),
            name: name.to_string(),
            scope,
            created_at: now(),
        };
        sqlx::query(
            "INSERT INTO api_tokens (id, environment_id, name, token_hash, scope, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(rec.id.as_str())
        .bind(environment_id)
        .bind(name)
        .bind(token_hash)
        .bind(scope.as_str())
        .bind(D::time(&rec.created_at))
        .execute(&mut *tx)
        .await?;
        Self::emit(&mut tx, &events(&rec)).await?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn token_identity(&self, token_hash: &str) -> Result<Option<TokenIdentity>, StoreError> {
        let row = sqlx::query("SELECT environment_id, scope FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(TokenIdentity {
                environment_id: r.try_get("environment_id")?,
                scope: scope_from(&r.try_get::<String, _>("scope")?)?,
            })
        })
        .transpose()
    }

    async fn list_api_tokens(&self, environment_id: &str) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, environment_id, name, scope, created_at FROM api_tokens WHERE environment_id = $1 ORDER BY created_at, id",
        )
        .bind(environment_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::api_token_from_row).collect()
    }

    async fn get_api_token(&self, environment_id: &str, id: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, environment_id, name, scope, created_at FROM api_tokens WHERE environment_id = $1 AND id = $2",
        )
        .bind(environment_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::api_token_from_row).transpose()
    }

    async fn delete_api_token(&self, environment_id: &str, id: &str) -> Result<bool, StoreError> {
        self.delete_api_token_emitting(environment_id, id, &[]).await
    }

    async fn delete_api_token_emitting(
        &self,
        environment_id: &str,
        id: &str,
        events: &[NewEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM api_tokens WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Self::emit_if_changed(tx, &done, events).await
    }

    async fn insert_account(&self, a: &AccountRecord) -> Result<(), StoreError> {
        self.insert_account_emitting(a, &[]).await
    }

    async fn insert_account_emitting(&self, a: &AccountRecord, events: &[NewEvent]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO integrated_accounts (id, environment_id, tenant_id, integration, context, secrets, status, last_error, is_sandbox, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(a.id.as_str())
        .bind(a.environment_id.as_str())
        .bind(a.tenant_id.as_str())
        .bind(a.integration.as_str())
        .bind(D::json(&a.context))
        .bind(a.secrets.as_str())
        .bind(a.status.as_str())
        .bind(a.last_error.as_deref())
        .bind(a.is_sandbox)
        .bind(D::time(&a.created_at))
        .bind(D::time(&a.updated_at))
        .execute(&mut *tx)
        .await?;
        Self::emit(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_account(&self, environment_id: &str, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        if let Some(found) = self.dialect.fast_account(environment_id, id, false) {
            return found.map(|r| r.map(Arc::unwrap_or_clone));
        }
        self.read_account(environment_id, id).await
    }

    async fn list_accounts(
        &self,
        environment_id: &str,
        filter: &AccountFilter,
        after: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        // The filters given, as `$n` placeholders, then bound in the same order.
        let mut sql = format!("SELECT {ACCOUNT_COLUMNS} FROM integrated_accounts WHERE environment_id = $1");
        let mut n = 1;
        let filters = [
            ("tenant_id", filter.tenant_id.is_some()),
            ("integration", filter.integration.is_some()),
            ("status", filter.status.is_some()),
            ("is_sandbox", filter.is_sandbox.is_some()),
        ];
        for (column, _) in filters.iter().filter(|(_, given)| *given) {
            n += 1;
            sql.push_str(&format!(" AND {column} = ${n}"));
        }
        if after.is_some() {
            sql.push_str(&format!(" AND (created_at, id) > (${}, ${})", n + 1, n + 2));
            n += 2;
        }
        sql.push_str(&format!(" ORDER BY created_at, id LIMIT ${}", n + 1));
        let mut query = sqlx::query(&sql).bind(environment_id);
        for value in [&filter.tenant_id, &filter.integration, &filter.status]
            .into_iter()
            .flatten()
        {
            query = query.bind(value.as_str());
        }
        if let Some(s) = filter.is_sandbox {
            query = query.bind(s);
        }
        if let Some(pos) = after {
            query = query.bind(D::time(&pos.created_at)).bind(pos.id.as_str());
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(Self::account_from_row).collect()
    }

    async fn get_account_for_call(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<Arc<AccountRecord>>, StoreError> {
        if let Some(found) = self.dialect.fast_account(environment_id, id, true) {
            return found;
        }
        let ticket = match self.dialect.cached_account(environment_id, id) {
            super::account_cache::Lookup::Hit(record) => return Ok(Some(record)),
            super::account_cache::Lookup::Miss(ticket) => ticket,
        };
        let found = self.read_account(environment_id, id).await?.map(Arc::new);
        if let Some(record) = &found {
            self.dialect.remember_account(ticket, record);
        }
        Ok(found)
    }

    async fn update_account(&self, a: &AccountRecord) -> Result<bool, StoreError> {
        self.update_account_emitting(a, &[]).await
    }

    async fn update_account_emitting(&self, a: &AccountRecord, events: &[NewEvent]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE integrated_accounts SET tenant_id = $1, context = $2, secrets = $3, status = $4, last_error = $5, updated_at = $6, \
             unified_model_override = $7 WHERE environment_id = $8 AND id = $9",
        )
        .bind(a.tenant_id.as_str())
        .bind(D::json(&a.context))
        .bind(a.secrets.as_str())
        .bind(a.status.as_str())
        .bind(a.last_error.as_deref())
        .bind(D::time(&a.updated_at))
        .bind(a.unified_model_override.as_ref().map(Value::to_string))
        .bind(a.environment_id.as_str())
        .bind(a.id.as_str())
        .execute(&mut *tx)
        .await?;
        let changed = Self::emit_if_changed(tx, &done, events).await;
        self.dialect.accounts_changed(Some(a.id.as_str()));
        changed
    }

    async fn delete_account(&self, environment_id: &str, id: &str) -> Result<bool, StoreError> {
        self.delete_account_emitting(environment_id, id, &[]).await
    }

    async fn delete_account_emitting(
        &self,
        environment_id: &str,
        id: &str,
        events: &[NewEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM integrated_accounts WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let changed = Self::emit_if_changed(tx, &done, events).await;
        self.dialect.accounts_changed(Some(id));
        changed
    }

    async fn update_account_credentials(&self, a: &AccountRecord) -> Result<bool, StoreError> {
        self.update_account_credentials_emitting(a, &[]).await
    }

    async fn update_account_credentials_emitting(
        &self,
        a: &AccountRecord,
        events: &[NewEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE integrated_accounts SET secrets = $1, status = $2, last_error = $3, updated_at = $4 WHERE environment_id = $5 AND id = $6",
        )
        .bind(a.secrets.as_str())
        .bind(a.status.as_str())
        .bind(a.last_error.as_deref())
        .bind(D::time(&a.updated_at))
        .bind(a.environment_id.as_str())
        .bind(a.id.as_str())
        .execute(&mut *tx)
        .await?;
        let changed = Self::emit_if_changed(tx, &done, events).await;
        self.dialect.accounts_changed(Some(a.id.as_str()));
        changed
    }

    async fn list_mapping_overrides(&self, environment_id: &str) -> Result<Vec<MappingOverrideRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM mapping_overrides WHERE environment_id = $1 ORDER BY created_at, id")
            .bind(environment_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::mapping_override_from_row).collect()
    }

    async fn get_mapping_override(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<MappingOverrideRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM mapping_overrides WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::mapping_override_from_row).transpose()
    }

    async fn insert_mapping_override(
        &self,
        r: &MappingOverrideRecord,
        events: &[NewEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO mapping_overrides (id, environment_id, model, resource, integration, method, config, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (environment_id, model, resource, integration, method) DO NOTHING",
        )
        .bind(r.id.as_str())
        .bind(r.environment_id.as_str())
        .bind(r.model.as_str())
        .bind(r.resource.as_str())
        .bind(r.integration.as_str())
        .bind(r.method.as_str())
        .bind(r.config.to_string())
        .bind(D::time(&r.created_at))
        .bind(D::time(&r.updated_at))
        .execute(&mut *tx)
        .await?;
        let changed = Self::finish_override_write(tx, &done, &r.environment_id, events).await;
        self.dialect.accounts_changed(None);
        changed
    }

    async fn update_mapping_override(
        &self,
        r: &MappingOverrideRecord,
        events: &[NewEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE mapping_overrides SET config = $1, updated_at = $2 WHERE environment_id = $3 AND id = $4",
        )
        .bind(r.config.to_string())
        .bind(D::time(&r.updated_at))
        .bind(r.environment_id.as_str())
        .bind(r.id.as_str())
        .execute(&mut *tx)
        .await?;
        let changed = Self::finish_override_write(tx, &done, &r.environment_id, events).await;
        self.dialect.accounts_changed(None);
        changed
    }

    async fn delete_mapping_override(
        &self,
        environment_id: &str,
        id: &str,
        events: &[NewEvent],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM mapping_overrides WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let changed = Self::finish_override_write(tx, &done, environment_id, events).await;
        self.dialect.accounts_changed(None);
        changed
    }

    async fn reseal_secrets(
        &self,
        environment_id: &str,
        id: &str,
        expected: &str,
        sealed: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE integrated_accounts SET secrets = $1 WHERE environment_id = $2 AND id = $3 AND secrets = $4",
        )
        .bind(sealed)
        .bind(environment_id)
        .bind(id)
        .bind(expected)
        .execute(&self.pool)
        .await?;
        self.dialect.accounts_changed(Some(id));
        Ok(D::rows_affected(&done) == 1)
    }

    async fn try_lock_refresh(&self, account_id: &str, holder: &str, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO refresh_locks (account_id, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE refresh_locks.expires_at < $4",
        )
        .bind(account_id)
        .bind(holder)
        .bind(D::time(&until))
        .bind(D::time(&Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(D::rows_affected(&done) == 1)
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
            "INSERT INTO link_tokens (token_hash, environment_id, tenant_id, integration, redirect_uri, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.token_hash.as_str())
        .bind(t.environment_id.as_str())
        .bind(t.tenant_id.as_str())
        .bind(t.integration.as_deref())
        .bind(t.redirect_uri.as_deref())
        .bind(D::time(&t.created_at))
        .bind(D::time(&t.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_link_token(&self, token_hash: &str) -> Result<Option<LinkTokenRecord>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM link_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
                .bind(token_hash)
                .bind(D::time(&Utc::now()))
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(Self::link_token_from_row).transpose()
    }

    async fn consume_link_token(&self, token_hash: &str) -> Result<Option<LinkTokenRecord>, StoreError> {
        let row = sqlx::query(
            "UPDATE link_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING *",
        )
        .bind(D::time(&Utc::now()))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::link_token_from_row).transpose()
    }

    async fn insert_request_logs(&self, entries: Vec<RequestLogRecord>, backlog: usize) -> Result<(), StoreError> {
        let mut entries = match self.dialect.write_request_logs(entries, backlog).await {
            Ok(()) => return Ok(()),
            Err(entries) => entries,
        };
        let mut tx = self.pool.begin().await?;
        log_batches::sort(&mut entries);
        for batch in log_batches::pack(&entries) {
            sqlx::query(
                "INSERT INTO request_log_batches \
                 (environment_id, last_at, last_id, integrated_account_id, entry_count, entries) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(batch.environment_id)
            .bind(batch.last_at)
            .bind(batch.last_id)
            .bind(batch.integrated_account_id)
            .bind(batch.entry_count)
            .bind(batch.entries)
            .execute(&mut *tx)
            .await?;
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
        use futures::TryStreamExt as _;
        let mut page = log_batches::Page::new(
            before.map(|b| (log_batches::micros(&b.created_at), b.id.clone())),
            limit as usize,
        );
        // Newest batch first, through the key (environment_id, last_at, last_id) or the
        // account's index (environment_id, integrated_account_id, last_at, last_id); read
        // until the page is full of entries newer than the next batch.
        let query = sqlx::query(match integrated_account_id {
            None => {
                "SELECT integrated_account_id, last_at, entries FROM request_log_batches \
                 WHERE environment_id = $1 AND last_at <= $2 ORDER BY last_at DESC, last_id DESC"
            }
            Some(_) => {
                "SELECT integrated_account_id, last_at, entries FROM request_log_batches \
                 WHERE environment_id = $1 AND integrated_account_id = $3 AND last_at <= $2 \
                 ORDER BY last_at DESC, last_id DESC"
            }
        })
        .bind(environment_id)
        .bind(page.newest_batch());
        let query = match integrated_account_id {
            Some(account) => query.bind(account),
            None => query,
        };
        let mut rows = query.fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            if !page.wants(row.try_get("last_at")?) {
                break;
            }
            let account: Option<String> = row.try_get("integrated_account_id")?;
            let entries: String = row.try_get("entries")?;
            page.add(log_batches::unpack(environment_id, account.as_deref(), &entries)?);
        }
        Ok(page.into_entries())
    }

    async fn prune_request_logs(&self, before: DateTime<Utc>, limit: u32) -> Result<LogDeleted, StoreError> {
        // Found through the (environment_id, last_at, last_id) key, one environment after
        // another; there is no index on the time alone (one more per stored batch).
        let deleted = sqlx::query(
            "DELETE FROM request_log_batches WHERE (environment_id, last_at, last_id) IN \
             (SELECT environment_id, last_at, last_id FROM request_log_batches \
              WHERE environment_id IN (SELECT id FROM environments) AND last_at < $1 LIMIT $2) \
             RETURNING entry_count",
        )
        .bind(log_batches::micros(&before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Self::log_deleted(&deleted)
    }

    async fn request_log_cap_time(&self, environment_id: &str, keep: u64) -> Result<Option<DateTime<Utc>>, StoreError> {
        // A running count of entries from the newest batch down, along the key.
        let row = sqlx::query(
            "SELECT last_at FROM (SELECT last_at, SUM(entry_count) OVER \
             (ORDER BY last_at DESC, last_id DESC ROWS UNBOUNDED PRECEDING) AS seen \
             FROM request_log_batches WHERE environment_id = $1) AS counted \
             WHERE seen > $2 ORDER BY seen LIMIT 1",
        )
        .bind(environment_id)
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| log_batches::from_micros(r.try_get("last_at")?)).transpose()
    }

    async fn trim_request_logs(
        &self,
        environment_id: &str,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<LogDeleted, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM request_log_batches WHERE (environment_id, last_at, last_id) IN \
             (SELECT environment_id, last_at, last_id FROM request_log_batches \
              WHERE environment_id = $1 AND last_at <= $2 LIMIT $3) \
             RETURNING entry_count",
        )
        .bind(environment_id)
        .bind(log_batches::micros(&until))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Self::log_deleted(&deleted)
    }

    async fn list_all_accounts(&self, after_id: Option<&str>, limit: u32) -> Result<Vec<AccountRecord>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM integrated_accounts WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(after_id.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::account_from_row).collect()
    }

    async fn insert_mcp_server(&self, server: &McpServerRecord) -> Result<(), StoreError> {
        self.mcp_insert(server).await
    }

    async fn list_mcp_servers(
        &self,
        environment_id: &str,
        account_id: &str,
        after: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<McpServerRecord>, StoreError> {
        self.mcp_list(environment_id, account_id, after, limit).await
    }

    async fn get_mcp_server(
        &self,
        environment_id: &str,
        account_id: &str,
        id: &str,
    ) -> Result<Option<McpServerRecord>, StoreError> {
        self.mcp_get(environment_id, account_id, id).await
    }

    async fn mcp_server_by_token(&self, token_hash: &str) -> Result<Option<McpServerRecord>, StoreError> {
        self.mcp_by_token(token_hash).await
    }

    async fn update_mcp_server(&self, server: &McpServerRecord) -> Result<bool, StoreError> {
        self.mcp_update(server).await
    }

    async fn delete_mcp_server(&self, environment_id: &str, account_id: &str, id: &str) -> Result<bool, StoreError> {
        self.mcp_delete(environment_id, account_id, id).await
    }

    async fn insert_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError> {
        self.webhooks_insert(webhook).await
    }

    async fn list_webhooks(
        &self,
        environment_id: &str,
        after: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<WebhookRecord>, StoreError> {
        self.webhooks_list(environment_id, after, limit).await
    }

    async fn get_webhook(&self, environment_id: &str, id: &str) -> Result<Option<WebhookRecord>, StoreError> {
        self.webhooks_get(environment_id, id).await
    }

    async fn update_webhook(&self, webhook: &WebhookRecord) -> Result<bool, StoreError> {
        self.webhooks_update(webhook).await
    }

    async fn disable_webhook(&self, environment_id: &str, id: &str, events: &[NewEvent]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET is_active = $1, updated_at = $2 WHERE environment_id = $3 AND id = $4 AND is_active = $5",
        )
        .bind(false)
        .bind(D::time(&now()))
        .bind(environment_id)
        .bind(id)
        .bind(true)
        .execute(&mut *tx)
        .await?;
        Self::emit_if_changed(tx, &done, events).await
    }

    async fn delete_webhook(&self, environment_id: &str, id: &str) -> Result<bool, StoreError> {
        self.webhooks_delete(environment_id, id).await
    }

    async fn enqueue_event_for(&self, event: &NewEvent, webhook_id: &str) -> Result<String, StoreError> {
        self.webhooks_enqueue_for(event, webhook_id).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.webhooks_claim(now, lease_until, limit).await
    }

    async fn record_attempt(
        &self,
        webhook_id: &str,
        attempt: &AttemptRecord,
        outcome: DeliveryOutcome,
    ) -> Result<u32, StoreError> {
        self.webhooks_record_attempt(webhook_id, attempt, outcome).await
    }

    async fn list_deliveries(
        &self,
        environment_id: &str,
        webhook_id: &str,
        before: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.webhooks_deliveries(environment_id, webhook_id, before, limit)
            .await
    }

    async fn list_attempts(&self, delivery_ids: &[String]) -> Result<Vec<AttemptRecord>, StoreError> {
        self.webhooks_attempts(delivery_ids).await
    }

    async fn retry_delivery(
        &self,
        environment_id: &str,
        webhook_id: &str,
        delivery_id: &str,
    ) -> Result<bool, StoreError> {
        self.webhooks_retry(environment_id, webhook_id, delivery_id).await
    }

    async fn prune_webhook_events(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        self.webhooks_prune(before, limit).await
    }

    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        self.webhooks_pending().await
    }

    fn account_cache(&self) -> Option<super::account_cache::CacheStats> {
        self.dialect.account_cache()
    }

    fn pool_use(&self) -> PoolUse {
        let open = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX).min(open);
        PoolUse {
            backend: D::NAME,
            in_use: open - idle,
            idle,
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn list_all_webhooks(&self, after_id: Option<&str>, limit: u32) -> Result<Vec<WebhookRecord>, StoreError> {
        self.webhooks_all(after_id, limit).await
    }

    async fn reseal_webhook_secrets(
        &self,
        id: &str,
        expected: (&str, Option<&str>),
        sealed: (&str, Option<&str>),
    ) -> Result<bool, StoreError> {
        self.webhooks_reseal(id, expected, sealed).await
    }

    async fn reserve_rate_slot(&self, key: &str, lanes: BudgetLanes, max_wait_ms: u64) -> Result<RateSlot, StoreError> {
        self.dialect
            .reserve_rate_slot(&self.pool, key, lanes, max_wait_ms)
            .await
    }
}

/// How often a rate-slot reservation is tried again when it lost a race for a lane.
pub(super) const RESERVE_ATTEMPTS: usize = 8;

/// A reservation's spacing and longest wait, in the 64-bit integers both databases compute
/// with; a larger value becomes a quarter of their range, so that sums cannot overflow.
pub(super) fn reserve_bounds(lanes: BudgetLanes, max_wait_ms: u64) -> (i64, i64) {
    (
        i64::try_from(lanes.spacing_ms).unwrap_or(i64::MAX / 4),
        i64::try_from(max_wait_ms).unwrap_or(i64::MAX / 4),
    )
}

/// A reservation that got no lane: `Exhausted` when the `earliest` lane frees up more than
/// `max_wait` after `now`; `None` when one frees up in time (a concurrent reservation took
/// it first), and the reservation is tried again.
pub(super) fn exhausted(earliest: Option<i64>, now: i64, spacing: i64, max_wait: i64) -> Option<RateSlot> {
    let retry_after = earliest.unwrap_or(now).saturating_add(spacing).saturating_sub(now);
    (retry_after > max_wait).then(|| RateSlot::Exhausted {
        retry_after_ms: u64::try_from(retry_after).unwrap_or(0),
    })
}

/// What a reservation answers after losing the race for a lane [`RESERVE_ATTEMPTS`] times.
pub(super) fn lost_every_race(lanes: BudgetLanes) -> RateSlot {
    RateSlot::Exhausted {
        retry_after_ms: lanes.spacing_ms.min(1000),
    }
}

fn scope_from(s: &str) -> Result<TokenScope, StoreError> {
    TokenScope::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown token scope `{s}`")))
}
