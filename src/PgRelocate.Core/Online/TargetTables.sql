-- The target's tables (ordinary, partitions and partitioned), schema and name, and the schema and name of the
-- partitioned table a partition is attached to (NULLs for any other table): what a follow that carries
-- schema changes finds there before it creates a table the source has, or attaches or detaches one.
SELECT n.nspname::text, c.relname::text,
       pn.nspname::text, p.relname::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
LEFT JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.oid IN ({{user_relations}}) AND c.relkind IN ('r', 'p')
