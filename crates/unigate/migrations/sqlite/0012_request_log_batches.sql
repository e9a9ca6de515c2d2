-- The request log stored a batch to a row (store/log_batches.rs): each row holds up to 64
-- entries of one environment and account, at most a second apart, packed in a JSON array
-- `[[id, method, path, status, duration_ms, error, at], ...]`, oldest first, `at` in
-- microseconds since the epoch. Keyed by the environment and the batch's newest entry
-- (`last_at`, `last_id`), the order the log is read and pruned in. A row per entry cost
-- SQLite about 3.1 us of CPU per logged call, a row per batch about 0.9 (bench/ANALYSIS.md,
-- twenty-sixth pass).
CREATE TABLE request_log_batches (
    environment_id         TEXT NOT NULL,
    last_at                INTEGER NOT NULL,
    last_id                TEXT NOT NULL,
    integrated_account_id  TEXT,
    entry_count            INTEGER NOT NULL,
    entries                TEXT NOT NULL,
    PRIMARY KEY (environment_id, last_at, last_id)
) WITHOUT ROWID;
-- Each row written before becomes a batch of one. Its time, RFC 3339 text at microseconds
-- ("2026-01-01T00:00:00.000000Z"), becomes microseconds since the epoch exactly.
INSERT INTO request_log_batches (environment_id, last_at, last_id, integrated_account_id, entry_count, entries)
    SELECT environment_id, at, id, integrated_account_id, 1,
           json_array(json_array(id, method, path, status, duration_ms, error, at))
    FROM (SELECT *, CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) * 1000000
                    + CAST(substr(created_at, 21, 6) AS INTEGER) AS at
          FROM request_logs);
DROP TABLE request_logs;
CREATE INDEX request_log_batches_by_account
    ON request_log_batches (environment_id, integrated_account_id, last_at, last_id);
