-- Makes the schema @schema (a literal of its name; @name, the same quoted as an identifier) on the target when it
-- lacks it, before a table is created in it or moved into it: a schema made on the source while following. Nothing
-- is run when the target has it (CREATE SCHEMA IF NOT EXISTS would still ask for the right to create schemas).
DO $pgrelocate$
BEGIN
    IF pg_catalog.to_regnamespace(@schema) IS NULL THEN
        CREATE SCHEMA @name;
    END IF;
END $pgrelocate$
