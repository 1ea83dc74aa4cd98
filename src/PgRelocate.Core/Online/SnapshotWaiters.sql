-- The sessions of this database waiting for a snapshot the verification while following holds (its slot's exported
-- snapshot, or a comparison's session that imported it) to end, and the first words of their statements (empty where
-- the login role may not see them). DETACH PARTITION … FINALIZE, CREATE INDEX CONCURRENTLY, REINDEX CONCURRENTLY and
-- DETACH PARTITION … CONCURRENTLY wait so for every older snapshot; a FINALIZE holds its partition's lock meanwhile,
-- which the comparison then waits for in turn: a cycle through the tool the server cannot see.
SELECT w.pid, coalesce(pg_catalog.left(pg_catalog.regexp_replace(a.query, '\s+', ' ', 'g'), 60), '')
FROM pg_catalog.pg_locks w
JOIN pg_catalog.pg_locks h ON h.locktype = 'virtualxid' AND h.virtualxid = w.virtualxid AND h.granted
JOIN pg_catalog.pg_stat_activity holder ON holder.pid = h.pid
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = w.pid
WHERE w.locktype = 'virtualxid' AND NOT w.granted AND w.pid <> h.pid
  AND holder.datname = pg_catalog.current_database() AND holder.usename = current_user
  AND holder.application_name = ANY (@holders)
