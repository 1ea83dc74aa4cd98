-- The estimate's view of the source's user tables: each table's rows (the catalog's estimate), its indexes' kinds,
-- its writes so far (inserted, updated and deleted rows, as the statistics have them), and its indexes' sizes as the
-- catalog has them (relpages, as of their last build, VACUUM or ANALYZE; 0 when never counted) weighed by their kind
-- (IndexWeight.sql), in the order of their kinds; and its oid, which the foreign keys' name (EstimateForeignKeys.sql).
SELECT n.nspname, c.relname, greatest(c.reltuples, 0)::bigint,
       coalesce(ix.kinds, '{}'),
       coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0),
       coalesce(ix.weighed, '{}'),
       c.oid::bigint
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid
CROSS JOIN LATERAL (SELECT array_agg(am.amname::text ORDER BY i.indexrelid) AS kinds,
                           array_agg(ic.relpages::bigint * current_setting('block_size')::bigint * {{index_weight}} ORDER BY i.indexrelid) AS weighed
                    FROM pg_catalog.pg_index i
                    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                    JOIN pg_catalog.pg_am am ON am.oid = ic.relam
                    WHERE i.indrelid = c.oid) ix
WHERE c.oid IN ({{user_tables}})
