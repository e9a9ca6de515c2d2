//! MCP servers as stored (`http::mcp` serves them): one row per server of an integrated
//! account, its token kept as a SHA-256 only (`crate::tokens::hash_token`), its
//! configuration as JSON text read whole. Every query but the token lookup starts from
//! the environment and the account.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row as _, Type};

use super::dialect::{DbRow, Dialect};
use super::sql::SqlStore;
use super::*;

/// What an MCP server exposes, as Truto's `config` names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpConfig {
    /// `read`, `write`, `custom` or method names (`list`, `get`, ...); empty: every method.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Tags of the tools to expose; empty: every tool.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether a caller must also send an API token of the server's environment.
    #[serde(default)]
    pub require_api_token_auth: bool,
}

/// An MCP server as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServerRecord {
    pub id: String,
    pub environment_id: String,
    pub integrated_account_id: String,
    pub name: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    pub config: McpConfig,
    /// After this time the token is refused.
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> <D::Db as Database>::Arguments<'q>: IntoArguments<'q, D::Db>,
    for<'a> &'a str: ColumnIndex<DbRow<D>> + Encode<'a, D::Db> + Type<D::Db>,
    Option<String>: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    Option<D::Time>: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    String: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    i64: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
{
    fn mcp_from_row(r: &DbRow<D>) -> Result<McpServerRecord, StoreError> {
        let config: String = r.try_get("config")?;
        let expires: Option<D::Time> = r.try_get("expires_at")?;
        Ok(McpServerRecord {
            id: r.try_get("id")?,
            environment_id: r.try_get("environment_id")?,
            integrated_account_id: r.try_get("integrated_account_id")?,
            name: r.try_get("name")?,
            token_hash: r.try_get("token_hash")?,
            config: serde_json::from_str(&config).map_err(|e| StoreError::Corrupt(format!("mcp config: {e}")))?,
            expires_at: expires.map(D::from_time).transpose()?,
            created_at: D::from_time(r.try_get("created_at")?)?,
            updated_at: D::from_time(r.try_get("updated_at")?)?,
        })
    }

    fn mcp_config_text(config: &McpConfig) -> String {
        serde_json::to_string(config).unwrap_or_else(|_| "{}".into())
    }

    pub(super) async fn mcp_insert(&self, s: &McpServerRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mcp_servers (id, environment_id, integrated_account_id, name, token_hash, config, expires_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(s.id.as_str())
        .bind(s.environment_id.as_str())
        .bind(s.integrated_account_id.as_str())
        .bind(s.name.as_str())
        .bind(s.token_hash.as_str())
        .bind(Self::mcp_config_text(&s.config))
        .bind(s.expires_at.as_ref().map(D::time))
        .bind(D::time(&s.created_at))
        .bind(D::time(&s.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn mcp_list(
        &self,
        environment_id: &str,
        account_id: &str,
        after: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<McpServerRecord>, StoreError> {
        let rows = match after {
            None => {
                sqlx::query(
                    "SELECT * FROM mcp_servers WHERE environment_id = $1 AND integrated_account_id = $2 \
                     ORDER BY created_at, id LIMIT $3",
                )
                .bind(environment_id)
                .bind(account_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            Some(pos) => {
                sqlx::query(
                    "SELECT * FROM mcp_servers WHERE environment_id = $1 AND integrated_account_id = $2 \
                     AND (created_at > $3 OR (created_at = $3 AND id > $4)) ORDER BY created_at, id LIMIT $5",
                )
                .bind(environment_id)
                .bind(account_id)
                .bind(D::time(&pos.created_at))
                .bind(pos.id.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(Self::mcp_from_row).collect()
    }

    pub(super) async fn mcp_get(
        &self,
        environment_id: &str,
        account_id: &str,
        id: &str,
    ) -> Result<Option<McpServerRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM mcp_servers WHERE environment_id = $1 AND integrated_account_id = $2 AND id = $3",
        )
        .bind(environment_id)
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::mcp_from_row).transpose()
    }

    pub(super) async fn mcp_by_token(&self, token_hash: &str) -> Result<Option<McpServerRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM mcp_servers WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::mcp_from_row).transpose()
    }

    pub(super) async fn mcp_update(&self, s: &McpServerRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE mcp_servers SET name = $1, config = $2, expires_at = $3, updated_at = $4 \
             WHERE environment_id = $5 AND integrated_account_id = $6 AND id = $7",
        )
        .bind(s.name.as_str())
        .bind(Self::mcp_config_text(&s.config))
        .bind(s.expires_at.as_ref().map(D::time))
        .bind(D::time(&s.updated_at))
        .bind(s.environment_id.as_str())
        .bind(s.integrated_account_id.as_str())
        .bind(s.id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(D::rows_affected(&done) == 1)
    }

    pub(super) async fn mcp_delete(
        &self,
        environment_id: &str,
        account_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM mcp_servers WHERE environment_id = $1 AND integrated_account_id = $2 AND id = $3")
                .bind(environment_id)
                .bind(account_id)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(D::rows_affected(&done) == 1)
    }
}
