-- The API process caches API keys and each company's assigned workflows. The caches hold while
-- cache_generation.value has not moved; these triggers move it on every change to what they hold
-- (a revoked key, a deactivated company, an assignment, a published version), whichever process
-- makes the change.

CREATE TABLE cache_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO cache_generation (id, value) VALUES (1, 0);

CREATE TRIGGER api_keys_changed AFTER UPDATE OF key_hash, company_id, revoked_at ON api_keys
BEGIN
    UPDATE cache_generation SET value = value + 1;
END;
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
BEGIN
    UPDATE cache_generation SET value = value + 1;
END;
CREATE TRIGGER companies_changed AFTER UPDATE ON companies
BEGIN
    UPDATE cache_generation SET value = value + 1;
END;
CREATE TRIGGER companies_deleted AFTER DELETE ON companies
BEGIN
    UPDATE cache_generation SET value = value + 1;
END;
CREATE TRIGGER company_workflows_inserted AFTER INSERT ON company_workflows
BEGIN
    UPDATE cache_generation SET value = value + 1;
END;
CREATE TRIGGER company_workflows_deleted AFTER DELETE ON company_workflows
BEGIN
    UPDATE cache_generation SET value = value + 1;
END;
CREATE TRIGGER workflows_changed AFTER UPDATE ON workflows
BEGIN
    UPDATE cache_generation SET value = value + 1;
END;
CREATE TRIGGER workflows_deleted AFTER DELETE ON workflows
BEGIN
    UPDATE cache_generation SET value = value + 1;
END;
