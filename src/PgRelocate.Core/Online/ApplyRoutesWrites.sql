-- The rows the side the changes come from has written to each of its tables since its statistics were last reset
-- (inserted, updated, deleted), to spread the busiest tables over the apply's lanes. No parameters.
SELECT schemaname::text, relname::text, (n_tup_ins + n_tup_upd + n_tup_del)::bigint
FROM pg_catalog.pg_stat_user_tables
