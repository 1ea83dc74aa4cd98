-- Run in a transaction reading an exported snapshot: the user tables the source rewrote after that snapshot
-- (TRUNCATE, VACUUM FULL, CLUSTER, a column's new type). The snapshot's row of pg_class still names the old
-- file, the server's current catalog the new one. TRUNCATE is not MVCC-safe: the snapshot no longer shows
-- such a table's rows, so a comparison with it says nothing about the target.
SELECT n.nspname || '.' || c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{user_tables}})
  AND c.relfilenode <> 0 AND c.relfilenode <> pg_catalog.pg_relation_filenode(c.oid)
ORDER BY 1
