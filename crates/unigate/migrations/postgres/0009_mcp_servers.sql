-- Same schema as migrations/sqlite/0010_mcp_servers.sql, in PostgreSQL types.
-- MCP servers (src/http/mcp.rs): one row per server of an integrated account. The token
-- is stored as its SHA-256 (as API tokens are), shown once when the server is created.

CREATE TABLE mcp_servers (
    id                      TEXT PRIMARY KEY,
    environment_id          TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    integrated_account_id   TEXT NOT NULL REFERENCES integrated_accounts (id) ON DELETE CASCADE,
    name                    TEXT NOT NULL,
    token_hash              TEXT NOT NULL UNIQUE,
    -- JSON text: {methods, tags, require_api_token_auth}; read whole, never queried inside.
    config                  TEXT NOT NULL,
    expires_at              TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL
);

CREATE INDEX mcp_servers_by_account ON mcp_servers (integrated_account_id, created_at, id);
