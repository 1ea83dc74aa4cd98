-- Makes the schema @schema (a literal of its name; @name, the same quoted as an identifier) on the target when it
-- lacks it, before a table is created in it or moved into it: a schema made on the source while following. Nothing
-- is run when the target has it (CREATE SCHEMA IF NOT EXISTS would still ask for the right to create schemas). A
-- login role that may not create schemas is told what to run instead of the server's bare refusal. Looked up by
-- its name as stored (to_regnamespace would parse it as SQL: a name with capitals, spaces or quotes fails there).
DO $pgrelocate$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = @schema) THEN
        BEGIN
            CREATE SCHEMA @name;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'the target''s login role % may not create schema %, which the source made while following', current_user, pg_catalog.quote_ident(@schema)
                USING ERRCODE = 'insufficient_privilege',
                      HINT = pg_catalog.format('Run CREATE SCHEMA %s on the target as its owner, or GRANT CREATE ON DATABASE %I TO %I there.', pg_catalog.quote_ident(@schema), pg_catalog.current_database(), current_user);
        END;
    END IF;
END $pgrelocate$
