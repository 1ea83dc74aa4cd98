-- The target's tables (ordinary, partitions and partitioned), schema and name: what a follow that carries
-- schema changes finds there before it creates a table the source has.
SELECT n.nspname::text, c.relname::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{user_relations}}) AND c.relkind IN ('r', 'p')
