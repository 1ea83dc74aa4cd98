-- The user's tables and materialized views: schema, name, whether a user table (pg_dump dumps its rows), the heap
-- and TOAST bytes, those plus the indexes' bytes as the catalog sizes them (relpages), and reltuples. No parameters.
SELECT n.nspname, c.relname, c.oid IN ({{user_tables}}), s.table_bytes,
       s.table_bytes + (SELECT coalesce(sum(i.relpages::bigint), 0) * current_setting('block_size')::bigint
                        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid),
       c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT pg_relation_size(c.oid) + coalesce(pg_relation_size(NULLIF(c.reltoastrelid, 0)), 0) AS table_bytes) s
WHERE c.relkind IN ('r', 'm') AND c.oid IN ({{user_relations}})
