-- What the apply's sessions on the target wait for, when they wait for a lock: @pids (int[]) are their server
-- processes. One row per waiting session: the relation it waits to lock (or the kind of lock when it is not a
-- relation's), the sessions that hold it up (pg_blocking_pids: their pids, which every role may see), and how
-- long it has waited. An ordinary role sees its own sessions' wait events; other roles' sessions only by pid.
SELECT a.pid,
       coalesce(min(pg_catalog.format('%I.%I', n.nspname, c.relname)), min(l.locktype), 'a lock') AS waits_for,
       pg_catalog.pg_blocking_pids(a.pid) AS blockers,
       coalesce(extract(epoch FROM pg_catalog.now() - a.state_change), 0)::float8 AS waited
FROM pg_catalog.pg_stat_activity a
LEFT JOIN pg_catalog.pg_locks l ON l.pid = a.pid AND NOT l.granted
LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE a.pid = ANY (@pids) AND a.wait_event_type = 'Lock'
GROUP BY a.pid, a.state_change
