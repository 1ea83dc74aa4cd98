-- Whether the login role may open replication connections and create slots: its name, and true when it has the
-- REPLICATION attribute, is a superuser, or is a member of RDS's rds_replication role.
SELECT current_user::text, r.rolreplication OR r.rolsuper
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication' AND pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER'))
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
