-- Replication slots and their WAL, in bytes: the lag (what the source wrote past the position the slot's
-- consumer confirmed) and the WAL the slot keeps (from its restart_lsn); from PostgreSQL 13 on what the server
-- says of it (wal_status: reserved, extended, unreserved or lost; safe_wal_size: what it may still write before
-- it invalidates the slot, null without max_slot_wal_keep_size), null before; then the slot's name, database
-- and whether a session streams from it; its output plugin, whether a publication of its name is beside it (null
-- for a slot of another database, whose publications this session cannot see) and the process reading it.
-- @slot (text) names one slot, no row when it is gone; null lists the slots named as the tool's (pgrelocate_...)
-- on the server, which only their plugin and publication tell from another program's of the same name.
SELECT coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.confirmed_flush_lsn), 0)::bigint AS lag_bytes,
       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn), 0)::bigint AS retained_bytes,
       pg_catalog.to_jsonb(s) ->> 'wal_status' AS wal_status,
       (pg_catalog.to_jsonb(s) ->> 'safe_wal_size')::bigint AS safe_wal_size,
       s.slot_name::text AS slot_name,
       coalesce(s.database::text, '') AS database,
       s.active,
       coalesce(s.plugin::text, '') AS plugin,
       CASE WHEN s.database = pg_catalog.current_database()
            THEN EXISTS (SELECT FROM pg_catalog.pg_publication p WHERE p.pubname = s.slot_name) END AS published,
       s.active_pid
FROM pg_catalog.pg_replication_slots s
WHERE CASE WHEN @slot::text IS NULL THEN s.slot_name LIKE 'pgrelocate\_%' ELSE s.slot_name = @slot::text END
ORDER BY s.slot_name
