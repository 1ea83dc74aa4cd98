-- What decides whether a restore can write to this database with the connections it asks for: whether
-- anything makes it read-only, and the connection limits with what already uses them. A superuser may use
-- the reserved slots; others may not. -1 means no limit.
SELECT current_setting('default_transaction_read_only')::boolean,
       current_setting('transaction_read_only')::boolean,
       pg_catalog.pg_is_in_recovery(),
       current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int
         + coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0),
       (SELECT count(*)::int FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend'),
       r.rolsuper,
       r.rolconnlimit,
       (SELECT count(*)::int FROM pg_catalog.pg_stat_activity WHERE usename = current_user AND backend_type = 'client backend'),
       d.datconnlimit,
       (SELECT count(*)::int FROM pg_catalog.pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend')
FROM pg_catalog.pg_roles r, pg_catalog.pg_database d
WHERE r.rolname = current_user AND d.datname = current_database()
