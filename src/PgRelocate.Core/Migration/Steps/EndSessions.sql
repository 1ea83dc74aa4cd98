-- Asks every other client session of the current database to end (pg_terminate_backend), but the migration's own
-- (@migration: the application name of the session holding the migration's lock, text; and its other sessions, named
-- '@migration WORK', which only read: the online follow's watch of the source, for one): each pid, and whether the
-- server took the request (false for another role's session, without the right).
SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND application_name <> @migration AND left(application_name, length(@migration) + 1) <> @migration || ' '
