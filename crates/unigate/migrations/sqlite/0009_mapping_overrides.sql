-- Mapping overrides (issue 32). An environment's overrides are rows of
-- `mapping_overrides`, one per (model, resource, integration, method); an account's are one
-- JSON document on its row. `environments.overrides_version` moves on with every write to
-- the environment's rows, in the same transaction, and is read with the account on every
-- call: an instance sees a change from the next call on and keeps compiled overrides per
-- version.
ALTER TABLE environments ADD COLUMN overrides_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE integrated_accounts ADD COLUMN unified_model_override TEXT;

CREATE TABLE mapping_overrides (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    model           TEXT NOT NULL,
    resource        TEXT NOT NULL,
    integration     TEXT NOT NULL,
    method          TEXT NOT NULL,
    -- The override's config, as JSON text.
    config          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (environment_id, model, resource, integration, method)
);
