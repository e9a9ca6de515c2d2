-- Environments own API tokens and integrated accounts; every query starts from one.
CREATE TABLE environments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Only the SHA-256 of a token is kept; the token itself is shown once.
CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL
);

CREATE TABLE integrated_accounts (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    integration     TEXT NOT NULL,
    -- Non-secret context values, as JSON.
    context         TEXT NOT NULL,
    -- Secret context values: one AES-256-GCM envelope (see accounts::crypto).
    secrets         TEXT NOT NULL,
    status          TEXT NOT NULL,
    last_error      TEXT,
    is_sandbox      INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE INDEX integrated_accounts_by_env ON integrated_accounts (environment_id, created_at, id);
CREATE INDEX integrated_accounts_by_tenant ON integrated_accounts (environment_id, tenant_id);
