-- One row per unified or proxy call: who, which account, what, the outcome. Never a query
-- string, a body or a credential. Pruned after `request_log.retention_hours`.
CREATE TABLE request_logs (
    id                     TEXT PRIMARY KEY,
    environment_id         TEXT NOT NULL,
    integrated_account_id  TEXT,
    method                 TEXT NOT NULL,
    path                   TEXT NOT NULL,
    status                 INTEGER NOT NULL,
    duration_ms            INTEGER NOT NULL,
    error                  TEXT,
    created_at             TEXT NOT NULL
);
CREATE INDEX request_logs_by_env ON request_logs (environment_id, created_at, id);
CREATE INDEX request_logs_by_account ON request_logs (environment_id, integrated_account_id, created_at, id);
