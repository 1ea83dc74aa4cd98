-- Other sessions, named for a person to recognise: application, user, since when (their transaction's start,
-- else their connection's), and what they are doing. @pids selects them.
SELECT a.pid, coalesce(nullif(a.application_name, ''), '(no name)'), coalesce(a.usename::text, '?'),
       coalesce(a.xact_start, a.backend_start), coalesce(a.state, '?')
FROM pg_catalog.pg_stat_activity a
WHERE a.pid = ANY(@pids)
ORDER BY a.pid
