-- Whether the way back can follow the target by a replication slot: the login role may replicate (REPLICATION, a
-- superuser, RDS's rds_replication), wal_level is logical, and a slot and a WAL sender are free; else triggers.
SELECT (r.rolreplication OR r.rolsuper
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication' AND pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER')))
       AND current_setting('wal_level') = 'logical'
       AND (SELECT count(*) FROM pg_catalog.pg_replication_slots) < current_setting('max_replication_slots')::int
       AND (SELECT count(*) FROM pg_catalog.pg_stat_replication) < current_setting('max_wal_senders')::int
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
