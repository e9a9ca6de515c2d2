-- The request log stored a batch to a row, as on SQLite (migrations/sqlite/0012 explains
-- the layout; store/log_batches.rs packs and reads it): up to 64 entries of one environment
-- and account, at most a second apart, in a JSON array, `at` and `last_at` in microseconds
-- since the epoch.
CREATE TABLE request_log_batches (
    environment_id         TEXT NOT NULL,
    last_at                BIGINT NOT NULL,
    last_id                TEXT NOT NULL,
    integrated_account_id  TEXT,
    entry_count            BIGINT NOT NULL,
    entries                TEXT NOT NULL,
    PRIMARY KEY (environment_id, last_at, last_id)
);
-- Each row written before becomes a batch of one (its time to the microsecond: EXTRACT
-- gives an exact numeric).
INSERT INTO request_log_batches (environment_id, last_at, last_id, integrated_account_id, entry_count, entries)
    SELECT environment_id, at, id, integrated_account_id, 1,
           json_build_array(json_build_array(id, method, path, status, duration_ms, error, at))::text
    FROM (SELECT *, (EXTRACT(EPOCH FROM created_at) * 1000000)::BIGINT AS at FROM request_logs) AS old;
DROP TABLE request_logs;
CREATE INDEX request_log_batches_by_account
    ON request_log_batches (environment_id, integrated_account_id, last_at, last_id);
