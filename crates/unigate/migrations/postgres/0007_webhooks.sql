-- Same schema as migrations/sqlite/0008_webhooks.sql, in PostgreSQL types.
-- Outbound webhooks (src/webhooks/): the subscriptions, the outbox of events, one
-- delivery per event and webhook, and every attempt of a delivery.

CREATE TABLE webhooks (
    id                          TEXT PRIMARY KEY,
    environment_id              TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    target_url                  TEXT NOT NULL,
    -- A JSON array of event names; empty: every event.
    event_types                 TEXT NOT NULL,
    is_active                   BOOLEAN NOT NULL,
    -- The signing secret, sealed with the master key (as accounts' secrets are).
    secret                      TEXT NOT NULL,
    -- After a rotation: the secret before it, sealed, signing alongside until it expires.
    previous_secret             TEXT,
    previous_secret_expires_at  TIMESTAMPTZ,
    -- Failed attempts since the last success: past webhooks.disable_after_failures the
    -- webhook is set inactive.
    consecutive_failures        BIGINT NOT NULL DEFAULT 0,
    created_at                  TIMESTAMPTZ NOT NULL,
    updated_at                  TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhooks_by_env ON webhooks (environment_id, created_at, id);

-- The outbox: written in the same transaction as the change an event reports.
CREATE TABLE webhook_events (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    payload         JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhook_events_by_time ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    event_id         TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    environment_id   TEXT NOT NULL,
    -- Deliveries of one key (an account's id) to one webhook go out in order.
    ordering_key     TEXT NOT NULL,
    -- pending, delivered or failed.
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    -- Claimed by a worker until then; after it (a crash mid-send), any worker may claim it.
    lease_until      TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_in_order ON webhook_deliveries (webhook_id, ordering_key, status, created_at);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      BIGINT NOT NULL,
    status_code  BIGINT,
    duration_ms  BIGINT NOT NULL,
    error        TEXT,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, attempt);
