-- Run by the superuser: a table of another role that the login role has no grant on.
DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'relocate_other') THEN CREATE ROLE relocate_other NOLOGIN; END IF; END $$;
CREATE SCHEMA audit;
GRANT USAGE ON SCHEMA audit TO PUBLIC;
CREATE TABLE audit.secret_events (id int PRIMARY KEY, what text);
INSERT INTO audit.secret_events VALUES (1, 'hidden');
ALTER TABLE audit.secret_events OWNER TO relocate_other;
ALTER SCHEMA audit OWNER TO relocate_other;
