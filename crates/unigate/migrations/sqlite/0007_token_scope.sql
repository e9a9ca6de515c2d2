-- A token's scope: `admin` may also manage API tokens (and webhooks); `api` calls the
-- unified, proxy and account endpoints. Tokens made before scopes existed could do
-- everything, so they are `admin`.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
