-- The tables an online migration publishes: ordinary and partitioned tables that are not partitions (a
-- partitioned table publishes its partitions, each as itself), permanent, outside the system schemas and not
-- members of an extension. Unlogged tables cannot be published.
SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE true
  -- Before PostgreSQL 13 a publication cannot hold a partitioned table: its partitions are listed instead.
  AND CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 130000
           THEN c.relkind IN ('r', 'p') AND NOT c.relispartition
           ELSE c.relkind = 'r' END
  AND c.relnamespace IN ({{user_schemas}})
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 2, 3
