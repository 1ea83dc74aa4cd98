-- The WAL the slot's sender has not read yet, in bytes: a sender still decoding (a large transaction behind
-- it) sends nothing for a while although the target is behind. Null when no sender streams from the slot.
SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.sent_lsn)::bigint
FROM pg_catalog.pg_replication_slots s
JOIN pg_catalog.pg_stat_replication r ON r.pid = s.active_pid
WHERE s.slot_name = @slot
