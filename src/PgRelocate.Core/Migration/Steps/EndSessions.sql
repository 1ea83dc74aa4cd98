-- Asks every other client session of the current database to end (pg_terminate_backend), but the migration's own
-- ($1: the application name of the session holding the migration's lock, text; and its other sessions, named
-- '$1 WORK', which only read: the online follow's watch of the source, for one): each pid, and whether the
-- server took the request (false for another role's session, without the right). Only once the database's own
-- default is read-only: sent in the same round trip as the ALTER DATABASE that makes it so, in a transaction of its
-- own after it, it ends nobody when that failed.
SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND application_name <> $1 AND left(application_name, length($1) + 1) <> $1 || ' '
  AND {{read_only_default}}
