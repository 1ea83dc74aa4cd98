-- The user's unlogged tables (ordinary and partitioned), as schema.name. No parameters.
SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'p') AND c.oid IN ({{user_relations}})
ORDER BY 1
