-- Which revision of the shipped catalog each system workflow version was published from (NULL
-- for versions an operator published). New catalog revisions are published as new versions on
-- start; the versions already stored keep their contract. Installations made before this
-- migration hold revision 1 of every system workflow as version 1.

ALTER TABLE workflow_versions ADD COLUMN system_revision INTEGER;

UPDATE workflow_versions SET system_revision = 1
WHERE version = 1 AND workflow_id IN (SELECT id FROM workflows WHERE is_system = 1);
