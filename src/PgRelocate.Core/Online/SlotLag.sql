-- The WAL the source has written past what the slot's consumer confirmed (the lag), and the WAL it keeps for it.
SELECT coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint,
       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn), 0)::bigint
FROM pg_catalog.pg_replication_slots
WHERE slot_name = @slot
