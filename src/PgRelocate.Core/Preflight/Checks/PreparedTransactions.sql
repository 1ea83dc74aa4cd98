-- The prepared transactions of this database: gid, owner and age in seconds, oldest first. No parameters.
SELECT gid, owner, extract(epoch FROM now() - prepared)::float8
FROM pg_prepared_xacts WHERE database = current_database() ORDER BY prepared
