-- Same as migrations/sqlite/0009_mapping_overrides.sql, in PostgreSQL types. JSON is kept
-- as text: it is read whole and compiled, never queried inside.
ALTER TABLE environments ADD COLUMN overrides_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE integrated_accounts ADD COLUMN unified_model_override TEXT;

CREATE TABLE mapping_overrides (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    model           TEXT NOT NULL,
    resource        TEXT NOT NULL,
    integration     TEXT NOT NULL,
    method          TEXT NOT NULL,
    config          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (environment_id, model, resource, integration, method)
);
