-- A counter of changes to the rows a unified call's account read depends on (its account,
-- its environment's overrides version), moved by triggers in the changing transaction.
-- The in-thread account reads (store/sqlite/fast_reads.rs) keep the accounts they read
-- while this number stays the same, instead of while nothing at all is committed: the
-- request log's batches commit many times a second and no longer empty that cache.
CREATE TABLE account_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO account_changes (id, version) VALUES (1, 0);

CREATE TRIGGER integrated_accounts_inserted AFTER INSERT ON integrated_accounts
BEGIN UPDATE account_changes SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER integrated_accounts_updated AFTER UPDATE ON integrated_accounts
BEGIN UPDATE account_changes SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER integrated_accounts_deleted AFTER DELETE ON integrated_accounts
BEGIN UPDATE account_changes SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER environments_overrides_changed AFTER UPDATE OF overrides_version ON environments
BEGIN UPDATE account_changes SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER environments_deleted AFTER DELETE ON environments
BEGIN UPDATE account_changes SET version = version + 1 WHERE id = 1; END;
