-- The server's replication slots and WAL senders: max_replication_slots and how many slots exist, max_wal_senders
-- and how many senders stream now.
SELECT current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_catalog.pg_replication_slots)::int,
       current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_catalog.pg_stat_replication)::int
