-- The source's tables a follow that carries schema changes compares with the target: permanent ordinary tables
-- and partitions (those with rows) and partitioned tables, each with its oid, schema and name, its parent's oid
-- when it is a partition (0 else; a partition left detach pending by DETACH PARTITION … CONCURRENTLY is taken for
-- detached: the source routes no row to it through its parent, and pgoutput no longer publishes it through one), whether it holds rows of its own (relkind r), and whether the publication
-- @publication sends its changes (as itself or through a partitioned ancestor).
SELECT c.oid, n.nspname::text, c.relname::text,
       coalesce((SELECT i.inhparent FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid AND c.relispartition AND NOT i.inhdetachpending), 0::oid),
       c.relkind = 'r',
       EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables p
               WHERE p.pubname = @publication AND p.schemaname = n.nspname AND p.tablename = c.relname)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{user_relations}}) AND c.relkind IN ('r', 'p') AND c.relpersistence = 'p'
ORDER BY 2, 3
