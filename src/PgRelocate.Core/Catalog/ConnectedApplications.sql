-- The client sessions connected to the current database, other than this one, the migrations' and the checks'
-- (@check: the checks' application name, text): their application name, user and client address (or why it is not
-- shown: a Unix socket, or hidden without pg_read_all_stats) with how many sessions each, the most first.
SELECT coalesce(nullif(application_name, ''), '(no name)'), coalesce(usename, '?'),
       CASE WHEN client_addr IS NOT NULL THEN host(client_addr)
            WHEN client_port = -1 THEN 'local socket'
            ELSE 'address hidden' END,
       count(*)::int
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND application_name NOT LIKE 'pgrelocate migration %' AND application_name <> @check
GROUP BY 1, 2, 3
ORDER BY 4 DESC, 1, 2, 3
