-- The sessions waiting for a lock on a relation that one of @readers (the copy's readers' process ids) holds or is
-- queued for ahead of them: the relation, those readers, and the waiting statement's text (empty where the login role
-- may not see it). A reader holds only ACCESS SHARE, so whatever waits on one wants the relation exclusively.
SELECT l.relation, pg_catalog.pg_blocking_pids(l.pid), coalesce(a.query, '')
FROM pg_catalog.pg_locks l
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE NOT l.granted AND l.locktype = 'relation' AND l.pid <> ALL (@readers)
  AND pg_catalog.pg_blocking_pids(l.pid) && @readers
