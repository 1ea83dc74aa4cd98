-- A session of the verification while following's comparison on the target (@comparison, its program) waiting for a
-- lock one of the follow's apply sessions (@apply, their programs' pattern) holds, with that apply session: a table's columns carried or a table copied
-- again takes its ACCESS EXCLUSIVE lock until the apply's group commits, and the group may in turn wait for the
-- comparison (a TRUNCATE of the same source transaction waits until it is done): a cycle through the tool the server
-- cannot see. Both sides' sessions are the migration's login role's.
SELECT w.pid, holder.pid
FROM pg_catalog.pg_stat_activity w
JOIN pg_catalog.pg_stat_activity holder ON holder.pid = ANY (pg_catalog.pg_blocking_pids(w.pid))
WHERE w.wait_event_type = 'Lock' AND w.datname = pg_catalog.current_database() AND w.usename = current_user
  AND w.application_name = @comparison
  AND holder.datname = pg_catalog.current_database() AND holder.usename = current_user
  AND holder.application_name LIKE @apply
ORDER BY w.pid
LIMIT 1
