-- The user tables with the planner's estimate of their rows and their size (heap and TOAST pages). Sizes
-- come from the catalog, not pg_total_relation_size: that one takes a lock on every table and would hang
-- behind any session holding an exclusive lock.
SELECT n.nspname, c.relname, c.reltuples,
       (c.relpages::bigint + coalesce(t.relpages, 0)) * current_setting('block_size')::bigint AS bytes
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_class t ON t.oid = c.reltoastrelid
WHERE c.oid IN ({{user_tables}})
ORDER BY bytes DESC, 1, 2
