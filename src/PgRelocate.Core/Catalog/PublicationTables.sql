-- The tables a publication of the user's tables lists: ordinary and partitioned tables that are not
-- partitions (a partitioned table publishes its partitions, each as itself) among the user relations,
-- unlogged ones included (a caller leaves those out: they cannot be published). Before PostgreSQL 13 a
-- publication cannot hold a partitioned table: its partitions are listed instead.
SELECT c.oid FROM pg_catalog.pg_class c
WHERE c.oid IN ({{user_relations}})
  AND CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 130000
           THEN c.relkind IN ('r', 'p') AND NOT c.relispartition
           ELSE c.relkind = 'r' END
