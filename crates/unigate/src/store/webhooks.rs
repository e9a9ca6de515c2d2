//! Outbound webhooks as stored: the subscriptions, the outbox of events, deliveries and
//! their attempts (`crate::webhooks` sends them; `http::webhooks` is the admin API).
//!
//! The outbox: an event is written by [`SqlStore::emit`] inside the transaction of the
//! change it reports (an account created, its status changed, a token deleted), with one
//! delivery row per active webhook subscribed to it. A change that rolls back leaves no
//! event; a committed one always has its deliveries, whatever happens to the process next.
//!
//! Workers claim due deliveries with a lease (`lease_until`): on PostgreSQL the rows are
//! picked `FOR UPDATE SKIP LOCKED`, so instances sharing the database each claim different
//! rows; a delivery whose worker died mid-send is claimed again once its lease expires.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row as _, Type};

use super::dialect::{DbRow, Dialect};
use super::sql::SqlStore;
use super::*;

/// An event to write in the outbox, with the change that causes it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub environment_id: String,
    /// Truto's name: `integrated_account:created`, `api_token:deleted`...
    pub event: String,
    /// The resource as the admin API answers it; never a secret.
    pub payload: Value,
    /// Events of one key (an account's id) reach each webhook in the order written.
    pub ordering_key: String,
    pub created_at: DateTime<Utc>,
}

/// A webhook subscription as stored: its secrets still sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: String,
    pub environment_id: String,
    pub target_url: String,
    /// Empty: every event.
    pub event_types: Vec<String>,
    pub is_active: bool,
    /// Sealed (`crate::crypto`), with the webhook's id as associated data.
    pub secret: String,
    /// After a rotation: the secret before it, sealed, valid until `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookRecord {
    /// Whether the webhook wants `event` (a `test` event is for whoever asks for it).
    pub fn wants(&self, event: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|e| e == event)
    }
}

/// An event of the outbox.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub id: String,
    pub environment_id: String,
    pub event: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

/// A delivery a worker claimed: its event, its webhook, and which attempt this is.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub event: EventRecord,
    pub webhook: WebhookRecord,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<DeliveryStatus, StoreError> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            other => Err(StoreError::Corrupt(format!("unknown delivery status `{other}`"))),
        }
    }
}

/// One event to one webhook, as the deliveries list shows it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub id: String,
    pub event_id: String,
    pub event: String,
    pub webhook_id: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One try at sending a delivery.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub id: String,
    pub delivery_id: String,
    pub attempt: u32,
    /// The target's answer; `None` when there was none (refused, timed out, forbidden).
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What an attempt leaves the delivery as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed; tried again at this time.
    Retry {
        at: DateTime<Utc>,
    },
    /// Failed, and the retry schedule is exhausted.
    Failed,
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    for<'q> <D::Db as Database>::Arguments<'q>: IntoArguments<'q, D::Db>,
    for<'a> &'a str: ColumnIndex<DbRow<D>> + Encode<'a, D::Db> + Type<D::Db>,
    for<'a> Option<&'a str>: Encode<'a, D::Db> + Type<D::Db>,
    Option<String>: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    Option<D::Time>: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    Option<i64>: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    String: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    i64: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
    bool: for<'q> Encode<'q, D::Db> + for<'r> Decode<'r, D::Db> + Type<D::Db>,
{
    /// Writes `events` in the transaction of `conn`, each with a pending delivery to every
    /// active webhook of its environment that wants it; an event no webhook wants is not
    /// kept.
    pub(super) async fn emit(
        conn: &mut <D::Db as Database>::Connection,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        let mut hooks: Vec<(String, Vec<WebhookRecord>)> = Vec::new();
        for e in events {
            if !hooks.iter().any(|(env, _)| *env == e.environment_id) {
                let rows = sqlx::query("SELECT * FROM webhooks WHERE environment_id = $1 AND is_active = $2")
                    .bind(e.environment_id.as_str())
                    .bind(true)
                    .fetch_all(&mut *conn)
                    .await?;
                let found = rows.iter().map(Self::webhook_from_row).collect::<Result<Vec<_>, _>>()?;
                hooks.push((e.environment_id.clone(), found));
            }
            let targets: Vec<&WebhookRecord> = hooks
                .iter()
                .filter(|(env, _)| *env == e.environment_id)
                .flat_map(|(_, h)| h.iter())
                .filter(|h| h.wants(&e.event))
                .collect();
            if targets.is_empty() {
                continue;
            }
            Self::insert_event(&mut *conn, e).await?;
            for hook in targets {
                Self::insert_delivery(&mut *conn, e, &hook.id).await?;
            }
        }
        Ok(())
    }

    /// Ends a change of one row: its `events` written and the transaction committed when the
    /// statement (`done`) changed the row; when there was no such row, nothing is emitted.
    pub(super) async fn emit_if_changed(
        mut tx: sqlx::Transaction<'_, D::Db>,
        done: &<D::Db as Database>::QueryResult,
        events: &[NewEvent],
    ) -> Result<bool, StoreError> {
        let changed = D::rows_affected(done) == 1;
        if changed {
            Self::emit(&mut tx, events).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Ends a write of one environment's mapping override: when the statement (`done`)
    /// changed its row, the environment's overrides version moves on and `events` are
    /// written, in the same transaction; otherwise nothing is (the transaction rolls back).
    pub(super) async fn finish_override_write(
        mut tx: sqlx::Transaction<'_, D::Db>,
        done: &<D::Db as Database>::QueryResult,
        environment_id: &str,
        events: &[NewEvent],
    ) -> Result<bool, StoreError> {
        if D::rows_affected(done) != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE environments SET overrides_version = overrides_version + 1 WHERE id = $1")
            .bind(environment_id)
            .execute(&mut *tx)
            .await?;
        Self::emit_if_changed(tx, done, events).await
    }

    async fn insert_event(conn: &mut <D::Db as Database>::Connection, e: &NewEvent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_events (id, environment_id, event, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(e.id.as_str())
        .bind(e.environment_id.as_str())
        .bind(e.event.as_str())
        .bind(D::json(&e.payload))
        .bind(D::time(&e.created_at))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn insert_delivery(
        conn: &mut <D::Db as Database>::Connection,
        e: &NewEvent,
        webhook_id: &str,
    ) -> Result<String, StoreError> {
        // Time-ordered ids: deliveries written together keep their order.
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, event_id, webhook_id, environment_id, ordering_key, status, attempts, \
             next_attempt_at, lease_until, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, NULL, $6, $6)",
        )
        .bind(id.as_str())
        .bind(e.id.as_str())
        .bind(webhook_id)
        .bind(e.environment_id.as_str())
        .bind(e.ordering_key.as_str())
        .bind(D::time(&e.created_at))
        .execute(&mut *conn)
        .await?;
        Ok(id)
    }

    pub(super) fn webhook_from_row(r: &DbRow<D>) -> Result<WebhookRecord, StoreError> {
        let types: String = r.try_get("event_types")?;
        let expires: Option<D::Time> = r.try_get("previous_secret_expires_at")?;
        Ok(WebhookRecord {
            id: r.try_get("id")?,
            environment_id: r.try_get("environment_id")?,
            target_url: r.try_get("target_url")?,
            event_types: serde_json::from_str(&types).map_err(|e| StoreError::Corrupt(format!("event_types: {e}")))?,
            is_active: r.try_get("is_active")?,
            secret: r.try_get("secret")?,
            previous_secret: r.try_get("previous_secret")?,
            previous_secret_expires_at: expires.map(D::from_time).transpose()?,
            consecutive_failures: count(r.try_get("consecutive_failures")?),
            created_at: D::from_time(r.try_get("created_at")?)?,
            updated_at: D::from_time(r.try_get("updated_at")?)?,
        })
    }

    fn event_from_row(r: &DbRow<D>) -> Result<EventRecord, StoreError> {
        Ok(EventRecord {
            id: r.try_get("id")?,
            environment_id: r.try_get("environment_id")?,
            event: r.try_get("event")?,
            payload: D::from_json(r.try_get("payload")?)?,
            created_at: D::from_time(r.try_get("created_at")?)?,
        })
    }

    fn attempt_from_row(r: &DbRow<D>) -> Result<AttemptRecord, StoreError> {
        let code: Option<i64> = r.try_get("status_code")?;
        Ok(AttemptRecord {
            id: r.try_get("id")?,
            delivery_id: r.try_get("delivery_id")?,
            attempt: count(r.try_get("attempt")?),
            status_code: code.and_then(|c| u16::try_from(c).ok()),
            duration_ms: u64::try_from(r.try_get::<i64, _>("duration_ms")?).unwrap_or(0),
            error: r.try_get("error")?,
            created_at: D::from_time(r.try_get("created_at")?)?,
        })
    }

    fn delivery_from_row(r: &DbRow<D>) -> Result<DeliveryRecord, StoreError> {
        Ok(DeliveryRecord {
            id: r.try_get("id")?,
            event_id: r.try_get("event_id")?,
            event: r.try_get("event")?,
            webhook_id: r.try_get("webhook_id")?,
            status: DeliveryStatus::parse(&r.try_get::<String, _>("status")?)?,
            attempts: count(r.try_get("attempts")?),
            next_attempt_at: D::from_time(r.try_get("next_attempt_at")?)?,
            created_at: D::from_time(r.try_get("created_at")?)?,
            updated_at: D::from_time(r.try_get("updated_at")?)?,
        })
    }

    pub(super) async fn webhooks_insert(&self, w: &WebhookRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhooks (id, environment_id, target_url, event_types, is_active, secret, previous_secret, \
             previous_secret_expires_at, consecutive_failures, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(w.id.as_str())
        .bind(w.environment_id.as_str())
        .bind(w.target_url.as_str())
        .bind(Value::from(w.event_types.clone()).to_string())
        .bind(w.is_active)
        .bind(w.secret.as_str())
        .bind(w.previous_secret.as_deref())
        .bind(w.previous_secret_expires_at.as_ref().map(D::time))
        .bind(i64::from(w.consecutive_failures))
        .bind(D::time(&w.created_at))
        .bind(D::time(&w.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn webhooks_list(
        &self,
        environment_id: &str,
        after: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<WebhookRecord>, StoreError> {
        let rows = match after {
            None => {
                sqlx::query("SELECT * FROM webhooks WHERE environment_id = $1 ORDER BY created_at, id LIMIT $2")
                    .bind(environment_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
            Some(pos) => {
                sqlx::query(
                    "SELECT * FROM webhooks WHERE environment_id = $1 AND (created_at > $2 OR (created_at = $2 AND id > $3)) \
                     ORDER BY created_at, id LIMIT $4",
                )
                .bind(environment_id)
                .bind(D::time(&pos.created_at))
                .bind(pos.id.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(Self::webhook_from_row).collect()
    }

    pub(super) async fn webhooks_get(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<WebhookRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM webhooks WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::webhook_from_row).transpose()
    }

    pub(super) async fn webhooks_update(&self, w: &WebhookRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhooks SET target_url = $1, event_types = $2, is_active = $3, secret = $4, previous_secret = $5, \
             previous_secret_expires_at = $6, consecutive_failures = $7, updated_at = $8 WHERE environment_id = $9 AND id = $10",
        )
        .bind(w.target_url.as_str())
        .bind(Value::from(w.event_types.clone()).to_string())
        .bind(w.is_active)
        .bind(w.secret.as_str())
        .bind(w.previous_secret.as_deref())
        .bind(w.previous_secret_expires_at.as_ref().map(D::time))
        .bind(i64::from(w.consecutive_failures))
        .bind(D::time(&w.updated_at))
        .bind(w.environment_id.as_str())
        .bind(w.id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(D::rows_affected(&done) == 1)
    }

    pub(super) async fn webhooks_delete(&self, environment_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM webhooks WHERE environment_id = $1 AND id = $2")
            .bind(environment_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(D::rows_affected(&done) == 1)
    }

    pub(super) async fn webhooks_enqueue_for(&self, event: &NewEvent, webhook_id: &str) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::insert_event(&mut *tx, event).await?;
        let id = Self::insert_delivery(&mut *tx, event, webhook_id).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(super) async fn webhooks_claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        // Cheap when idle: a read, not a write, when nothing is due.
        let due = sqlx::query(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) LIMIT 1",
        )
        .bind(D::time(&now))
        .fetch_optional(&self.pool)
        .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        // Due, not leased, and no earlier delivery of the same key to the same webhook
        // still pending (in order per account). PostgreSQL skips rows another instance is
        // claiming at this moment; SQLite runs one writer at a time.
        let sql = format!(
            "UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1, updated_at = $2 WHERE id IN ( \
               SELECT d.id FROM webhook_deliveries d \
               WHERE d.status = 'pending' AND d.next_attempt_at <= $2 AND (d.lease_until IS NULL OR d.lease_until < $2) \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook_id = d.webhook_id \
                   AND p.ordering_key = d.ordering_key AND p.status = 'pending' \
                   AND (p.created_at < d.created_at OR (p.created_at = d.created_at AND p.id < d.id))) \
               ORDER BY d.next_attempt_at, d.created_at, d.id LIMIT $3{}) \
             RETURNING id, event_id, webhook_id, attempts",
            D::SKIP_LOCKED
        );
        let claimed = sqlx::query(&sql)
            .bind(D::time(&lease_until))
            .bind(D::time(&now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(claimed.len());
        for row in &claimed {
            let id: String = row.try_get("id")?;
            let event_id: String = row.try_get("event_id")?;
            let webhook_id: String = row.try_get("webhook_id")?;
            let attempt = count(row.try_get("attempts")?);
            let event = sqlx::query("SELECT * FROM webhook_events WHERE id = $1")
                .bind(event_id.as_str())
                .fetch_optional(&self.pool)
                .await?;
            let webhook = sqlx::query("SELECT * FROM webhooks WHERE id = $1")
                .bind(webhook_id.as_str())
                .fetch_optional(&self.pool)
                .await?;
            // Deleted meanwhile (the cascade takes the delivery too).
            let (Some(event), Some(webhook)) = (event, webhook) else {
                continue;
            };
            out.push(ClaimedDelivery {
                id,
                attempt,
                event: Self::event_from_row(&event)?,
                webhook: Self::webhook_from_row(&webhook)?,
            });
        }
        Ok(out)
    }

    pub(super) async fn webhooks_record_attempt(
        &self,
        webhook_id: &str,
        a: &AttemptRecord,
        outcome: DeliveryOutcome,
    ) -> Result<u32, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (id, delivery_id, attempt, status_code, duration_ms, error, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(a.id.as_str())
        .bind(a.delivery_id.as_str())
        .bind(i64::from(a.attempt))
        .bind(a.status_code.map(i64::from))
        .bind(i64::try_from(a.duration_ms).unwrap_or(i64::MAX))
        .bind(a.error.as_deref())
        .bind(D::time(&a.created_at))
        .execute(&mut *tx)
        .await?;
        let (status, next) = match outcome {
            DeliveryOutcome::Delivered => (DeliveryStatus::Delivered, a.created_at),
            DeliveryOutcome::Retry { at } => (DeliveryStatus::Pending, at),
            DeliveryOutcome::Failed => (DeliveryStatus::Failed, a.created_at),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, lease_until = NULL, updated_at = $3 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(D::time(&next))
        .bind(D::time(&a.created_at))
        .bind(a.delivery_id.as_str())
        .execute(&mut *tx)
        .await?;
        let failures = if outcome == DeliveryOutcome::Delivered {
            "0"
        } else {
            "consecutive_failures + 1"
        };
        sqlx::query(&format!(
            "UPDATE webhooks SET consecutive_failures = {failures} WHERE id = $1"
        ))
        .bind(webhook_id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT consecutive_failures FROM webhooks WHERE id = $1")
            .bind(webhook_id)
            .fetch_optional(&mut *tx)
            .await?;
        let n: i64 = match row {
            Some(r) => r.try_get("consecutive_failures")?,
            None => 0,
        };
        tx.commit().await?;
        Ok(count(n))
    }

    pub(super) async fn webhooks_deliveries(
        &self,
        environment_id: &str,
        webhook_id: &str,
        before: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let far = AccountPosition {
            created_at: Utc::now() + chrono::Duration::days(36500),
            id: String::new(),
        };
        let before = before.unwrap_or(&far);
        let rows = sqlx::query(
            "SELECT d.id, d.event_id, e.event, d.webhook_id, d.status, d.attempts, d.next_attempt_at, d.created_at, d.updated_at \
             FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.environment_id = $1 AND d.webhook_id = $2 \
               AND (d.created_at < $3 OR (d.created_at = $3 AND d.id < $4)) \
             ORDER BY d.created_at DESC, d.id DESC LIMIT $5",
        )
        .bind(environment_id)
        .bind(webhook_id)
        .bind(D::time(&before.created_at))
        .bind(before.id.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::delivery_from_row).collect()
    }

    pub(super) async fn webhooks_attempts(&self, delivery_ids: &[String]) -> Result<Vec<AttemptRecord>, StoreError> {
        if delivery_ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=delivery_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT * FROM webhook_attempts WHERE delivery_id IN ({}) ORDER BY delivery_id, attempt, created_at",
            marks.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in delivery_ids {
            query = query.bind(id.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(Self::attempt_from_row).collect()
    }

    pub(super) async fn webhooks_retry(
        &self,
        environment_id: &str,
        webhook_id: &str,
        delivery_id: &str,
    ) -> Result<bool, StoreError> {
        let now = D::time(&Utc::now());
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, lease_until = NULL, updated_at = $1 \
             WHERE environment_id = $2 AND webhook_id = $3 AND id = $4",
        )
        .bind(now)
        .bind(environment_id)
        .bind(webhook_id)
        .bind(delivery_id)
        .execute(&self.pool)
        .await?;
        Ok(D::rows_affected(&done) == 1)
    }

    pub(super) async fn webhooks_all(
        &self,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after_id.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::webhook_from_row).collect()
    }

    pub(super) async fn webhooks_reseal(
        &self,
        id: &str,
        expected: (&str, Option<&str>),
        sealed: (&str, Option<&str>),
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhooks SET secret = $1, previous_secret = $2 \
             WHERE id = $3 AND secret = $4 AND previous_secret IS NOT DISTINCT FROM $5",
        )
        .bind(sealed.0)
        .bind(sealed.1)
        .bind(id)
        .bind(expected.0)
        .bind(expected.1)
        .execute(&self.pool)
        .await?;
        Ok(D::rows_affected(&done) == 1)
    }

    pub(super) async fn webhooks_pending(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
    }

    pub(super) async fn webhooks_prune(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        // Events whose every delivery is finished (delivered or failed), older than
        // `before`; their deliveries and attempts go with them (ON DELETE CASCADE).
        let done = sqlx::query(
            "DELETE FROM webhook_events WHERE id IN (SELECT e.id FROM webhook_events e WHERE e.created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending') LIMIT $2)",
        )
        .bind(D::time(&before))
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?;
        Ok(D::rows_affected(&done))
    }
}
