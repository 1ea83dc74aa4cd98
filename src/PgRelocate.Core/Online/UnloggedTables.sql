-- The user's unlogged tables ("schema.table"), with the catalog's estimate of their size (relpages, so that no
-- table is locked). Their changes are not in the WAL, so logical decoding never sees them: an online migration
-- leaves them out of its verification while following and copies them again at the cutover.
SELECT n.nspname || '.' || c.relname AS name,
       (c.relpages::bigint + coalesce((SELECT t.relpages FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid), 0))
           * current_setting('block_size')::bigint AS bytes
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relpersistence = 'u' AND c.oid IN ({{user_tables}})
ORDER BY 1
