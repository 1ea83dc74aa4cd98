-- The tables an online migration publishes (Catalog/PublicationTables.sql): ordinary and partitioned tables
-- that are not partitions, of the user's own. Unlogged tables cannot be published: the caller leaves them out.
SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{publication_tables}})
ORDER BY 2, 3
