-- Idempotency-Key records: the first answer to a keyed write, replayed for 24 hours.
CREATE TABLE idempotency_keys (
    environment_id  TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    -- NULL while the first request is still running.
    status_code     INTEGER,
    content_type    TEXT,
    body            BYTEA,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (environment_id, key)
);
