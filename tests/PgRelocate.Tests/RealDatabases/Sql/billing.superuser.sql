-- What the source provider's superuser did: the test extension in its own schema, hstore in public,
-- and a configuration row a user added to the extension's table.
CREATE EXTENSION relocate_demo;
CREATE EXTENSION hstore;
INSERT INTO relocate_demo.settings (name, value) VALUES ('tax region', 'EU-west');
