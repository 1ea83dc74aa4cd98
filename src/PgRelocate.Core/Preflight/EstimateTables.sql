-- The estimate's view of the source's user tables: each table's rows (the catalog's estimate), its indexes' kinds
-- and its writes so far (inserted, updated and deleted rows, as the statistics have them).
SELECT n.nspname, c.relname, greatest(c.reltuples, 0)::bigint,
       coalesce((SELECT array_agg(am.amname::text ORDER BY i.indexrelid)
                 FROM pg_catalog.pg_index i
                 JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_catalog.pg_am am ON am.oid = ic.relam
                 WHERE i.indrelid = c.oid), '{}'),
       coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid IN ({{user_tables}})
