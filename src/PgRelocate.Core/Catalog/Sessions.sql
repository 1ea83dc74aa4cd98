-- Other sessions, named for a person to recognise: application, user, since when (their transaction's start,
-- else their connection's), and what they are doing. @pids selects them. Of another role's session
-- pg_stat_activity shows an ordinary role only the pid, the user and the application: since when and what it
-- is doing are null, and hidden says so.
SELECT a.pid, coalesce(nullif(a.application_name, ''), '(no name)'), coalesce(a.usename::text, '?'),
       coalesce(a.xact_start, a.backend_start), a.state, a.backend_start IS NULL AS hidden
FROM pg_catalog.pg_stat_activity a
WHERE a.pid = ANY(@pids)
ORDER BY a.pid
