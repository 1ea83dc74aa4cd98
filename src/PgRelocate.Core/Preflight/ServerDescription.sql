-- What the check says of a server's session: database, user, whether a superuser, whether TLS and its version, and
-- the backend pid. No parameters.
SELECT current_database(),
       current_user,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
       coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
       (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()),
       pg_backend_pid()
