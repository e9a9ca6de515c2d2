-- The request log keyed by the order it is read and pruned in: a table without a rowid whose
-- primary key is (environment_id, created_at, id) replaces the rowid table, its index on
-- `id` and its index on (environment_id, created_at, id). A logged call then updates two
-- B-trees instead of four, about 30 % less to write (bench/ANALYSIS.md, thirteenth pass).
-- Ids are still unique: fresh UUIDv7s, the last part of the key.
CREATE TABLE request_logs_keyed (
    id                     TEXT NOT NULL,
    environment_id         TEXT NOT NULL,
    integrated_account_id  TEXT,
    method                 TEXT NOT NULL,
    path                   TEXT NOT NULL,
    status                 INTEGER NOT NULL,
    duration_ms            INTEGER NOT NULL,
    error                  TEXT,
    created_at             TEXT NOT NULL,
    PRIMARY KEY (environment_id, created_at, id)
) WITHOUT ROWID;
INSERT INTO request_logs_keyed (id, environment_id, integrated_account_id, method, path, status, duration_ms, error, created_at)
    SELECT id, environment_id, integrated_account_id, method, path, status, duration_ms, error, created_at FROM request_logs;
DROP TABLE request_logs;
ALTER TABLE request_logs_keyed RENAME TO request_logs;
CREATE INDEX request_logs_by_account ON request_logs (environment_id, integrated_account_id, created_at, id);
