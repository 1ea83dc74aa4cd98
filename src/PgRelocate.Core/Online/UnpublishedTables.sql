-- Tables that appeared on the source after the publication was made (their changes would be lost).
SELECT n.nspname || '.' || c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE true AND c.relpersistence = 'p'
  -- Before PostgreSQL 13 a publication cannot hold a partitioned table: its partitions are listed instead.
  AND CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 130000
           THEN c.relkind IN ('r', 'p') AND NOT c.relispartition
           ELSE c.relkind = 'r' END
  AND c.relnamespace IN ({{user_schemas}})
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
                  WHERE p.pubname = @publication AND pr.prrelid = c.oid)
ORDER BY 1
