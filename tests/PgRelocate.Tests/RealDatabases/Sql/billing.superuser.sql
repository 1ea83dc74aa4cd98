-- What the source provider's superuser did (harmless to do again where it is done already): the test extension in
-- its own schema, hstore in public, and a configuration row a user added to the extension's table.
CREATE EXTENSION IF NOT EXISTS relocate_demo;
CREATE EXTENSION IF NOT EXISTS hstore;
INSERT INTO relocate_demo.settings (name, value) VALUES ('tax region', 'EU-west') ON CONFLICT DO NOTHING;
