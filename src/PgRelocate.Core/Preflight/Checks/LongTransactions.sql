-- The other sessions of this database whose transaction is open for at least @seconds (float8): pid, user,
-- application, seconds open and state, oldest first. Other users' xact_start is hidden without pg_read_all_stats:
-- those are not counted.
SELECT pid, coalesce(usename, '?'), coalesce(nullif(application_name, ''), '(no name)'),
       extract(epoch FROM now() - xact_start)::float8, coalesce(state, '?')
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND xact_start IS NOT NULL AND now() - xact_start >= make_interval(secs => @seconds)
ORDER BY xact_start
