-- Every change to an integrated account, and every change of an environment's overrides
-- version (or the environment's deletion), notifies `unigate_accounts`, so that each
-- instance's cache of the accounts its calls read (store/account_cache.rs) forgets it.
-- The payload is the account id, or `*` for every account. Notifications are sent when the
-- transaction commits, to every listening session, whichever instance or tool made the change.
CREATE FUNCTION unigate_account_changed() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('unigate_accounts', OLD.id);
  ELSE
    PERFORM pg_notify('unigate_accounts', NEW.id);
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER integrated_accounts_notify
  AFTER INSERT OR UPDATE OR DELETE ON integrated_accounts
  FOR EACH ROW EXECUTE FUNCTION unigate_account_changed();

CREATE FUNCTION unigate_environment_changed() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('unigate_accounts', '*');
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER environments_notify
  AFTER UPDATE OF overrides_version OR DELETE ON environments
  FOR EACH ROW EXECUTE FUNCTION unigate_environment_changed();
