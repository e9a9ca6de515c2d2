-- Same schema as migrations/sqlite, in PostgreSQL types.
CREATE TABLE environments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE integrated_accounts (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    integration     TEXT NOT NULL,
    context         JSONB NOT NULL,
    secrets         TEXT NOT NULL,
    status          TEXT NOT NULL,
    last_error      TEXT,
    is_sandbox      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE INDEX integrated_accounts_by_env ON integrated_accounts (environment_id, created_at, id);
CREATE INDEX integrated_accounts_by_tenant ON integrated_accounts (environment_id, tenant_id);
