-- The tables the way back changed (quoted, qualified names, as the apply records them) as the verification
-- names tables ("schema.table"); a table dropped since is left out.
SELECT n.nspname || '.' || c.relname
FROM unnest($1::text[]) t
JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(t)
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY 1
