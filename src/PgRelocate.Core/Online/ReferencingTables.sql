-- The tables @tables (oids) and those whose foreign keys reference them, directly or through others: what the target
-- must empty together to empty them (a TRUNCATE refuses a table another's foreign key references, unless that one is
-- emptied with it). Tables with rows of their own only (ordinary tables and partitions), by schema and name.
WITH RECURSIVE t(oid) AS (
    SELECT unnest(@tables::oid[])
    UNION
    SELECT c.conrelid FROM pg_catalog.pg_constraint c JOIN t ON c.confrelid = t.oid WHERE c.contype = 'f'
)
SELECT n.nspname::text, r.relname::text
FROM t
JOIN pg_catalog.pg_class r ON r.oid = t.oid
JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
WHERE r.relkind = 'r'
ORDER BY 1, 2
