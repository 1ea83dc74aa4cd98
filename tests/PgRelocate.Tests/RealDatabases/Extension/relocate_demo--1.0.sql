\echo Use "CREATE EXTENSION relocate_demo" to load this file. \quit

-- Rows the extension ships are marked builtin; rows a user adds are not, and only those are dumped.
CREATE TABLE @extschema@.settings (
    name text PRIMARY KEY,
    value text NOT NULL,
    builtin boolean NOT NULL DEFAULT false
);
INSERT INTO @extschema@.settings (name, value, builtin) VALUES ('currency', 'EUR', true), ('rounding', 'half-even', true);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.settings', 'WHERE NOT builtin');
-- Everyone reads the settings, as everyone reads PostGIS's spatial_ref_sys.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
GRANT SELECT ON @extschema@.settings TO PUBLIC;

CREATE TYPE @extschema@.amount AS (value numeric(12, 2), currency char(3));

CREATE FUNCTION @extschema@.amount_of(numeric, char(3)) RETURNS @extschema@.amount
    LANGUAGE sql IMMUTABLE AS $$ SELECT ROW($1, $2)::@extschema@.amount $$;

CREATE FUNCTION @extschema@.setting(text) RETURNS text
    LANGUAGE sql STABLE AS $$ SELECT value FROM @extschema@.settings WHERE name = $1 $$;
