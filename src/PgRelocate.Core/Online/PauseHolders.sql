-- The sessions whose open transactions a PgBouncer PAUSE waits for: the oldest first.
SELECT pid, usename, round(extract(epoch FROM now() - xact_start)::numeric, 1)::text, state
FROM pg_catalog.pg_stat_activity
WHERE datname = pg_catalog.current_database() AND pid <> pg_catalog.pg_backend_pid()
  AND backend_type = 'client backend' AND xact_start IS NOT NULL
ORDER BY xact_start
LIMIT 3
