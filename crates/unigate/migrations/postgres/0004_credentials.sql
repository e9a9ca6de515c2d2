-- One OAuth token refresh per account at a time, across every instance sharing the store:
-- a lease that expires, so a holder that crashed mid-refresh cannot block the account forever.
CREATE TABLE refresh_locks (
    account_id  TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

-- Link tokens of the connect flow: only the SHA-256 is kept; single use, 7 days.
CREATE TABLE link_tokens (
    token_hash      TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    integration     TEXT,
    redirect_uri    TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ
);
