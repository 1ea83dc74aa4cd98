-- The provider-like target's template, made by its superuser (PostGIS is added first where the server has it):
-- hstore in public, pg_trgm in heroku_ext, the test extension in its own schema. The login role may write
-- its extensions' configuration tables (a user adds SRIDs and settings), as providers allow.
CREATE EXTENSION hstore;
CREATE SCHEMA heroku_ext;
GRANT USAGE ON SCHEMA heroku_ext TO PUBLIC;
CREATE EXTENSION pg_trgm SCHEMA heroku_ext;
CREATE EXTENSION relocate_demo;
DO $$
DECLARE t regclass;
BEGIN
    FOR t IN SELECT unnest(extconfig) FROM pg_extension LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO PUBLIC', t);
    END LOOP;
END $$;
