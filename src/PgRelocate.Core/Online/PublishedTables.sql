-- The tables an online migration publishes: ordinary and partitioned tables that are not partitions (a
-- partitioned table publishes its partitions, each as itself), permanent, outside the system schemas and not
-- members of an extension. Unlogged tables cannot be published.
SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND c.relnamespace IN ({{user_schemas}})
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 2, 3
