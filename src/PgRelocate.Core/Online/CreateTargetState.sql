-- Creates the tool's schema on the target for a follow (TargetState.CreateAsync): the applied position, the tables
-- the follow changed, each table's position, and the record of the triggers it disables, filled with every
-- trigger enabled now. A record left by an interrupted attempt is kept and added to. DDL takes no bind
-- parameters: code fills in @schema, the tool's schema's name (OnlineNames.TargetSchema, a plain lower-case
-- identifier, written as it is both as an identifier and inside quotes).
CREATE SCHEMA IF NOT EXISTS @schema;
DROP TABLE IF EXISTS @schema.position, @schema.changed_tables, @schema.table_positions;
CREATE TABLE @schema.position (slot text PRIMARY KEY, lsn pg_lsn NOT NULL, changes bigint NOT NULL DEFAULT 0,
                               transactions bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE @schema.changed_tables (table_name text PRIMARY KEY);
CREATE TABLE @schema.table_positions (slot text NOT NULL, table_name text NOT NULL, lsn pg_lsn NOT NULL,
                                      PRIMARY KEY (slot, table_name));
CREATE TABLE IF NOT EXISTS @schema.disabled_triggers (table_name text NOT NULL, trigger_name text NOT NULL, enabled "char" NOT NULL,
                                                      PRIMARY KEY (table_name, trigger_name));
-- Every table's triggers, an extension's too, not only the user tables': the cutover writes the
-- extensions' configuration tables (ConfigurationRows) while they are disabled. A trigger enabled
-- now has the mode to restore; one an earlier attempt disabled keeps the mode it recorded.
INSERT INTO @schema.disabled_triggers
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), t.tgname, t.tgenabled
FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND n.nspname <> '@schema'
ON CONFLICT (table_name, trigger_name) DO UPDATE SET enabled = excluded.enabled;
