-- Every role but the predefined ones (pg_*): its name, whether it logs in and inherits, the roles it is a
-- member of (with ADMIN OPTION), and what --roles carries besides: its connection limit, VALID UNTIL (text,
-- NULL for none), whether it is a superuser, replicates or bypasses row security, and its own settings for
-- every database (ALTER ROLE ... SET, as name=value); its settings in this database only (ALTER ROLE ... IN
-- DATABASE ... SET); and its memberships as JSON objects {role, admin, inherit, set}, inherit and set null
-- before PostgreSQL 16 (read through to_jsonb, which has them where the server has them); and its memberships
-- in predefined roles (pg_monitor, pg_read_all_data, ...), the same way. Which of them a
-- database uses is decided by the caller, from its owners, grantees and policy roles and the roles those are
-- members of.
SELECT r.rolname, r.rolcanlogin, r.rolinherit,
       coalesce((SELECT pg_catalog.array_agg(g.rolname ORDER BY g.rolname)
                 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                 WHERE m.member = r.oid AND g.rolname !~ '^pg_'), '{}') AS member_of,
       coalesce((SELECT pg_catalog.array_agg(g.rolname ORDER BY g.rolname)
                 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                 WHERE m.member = r.oid AND m.admin_option AND g.rolname !~ '^pg_'), '{}') AS admin_of,
       r.rolconnlimit, pg_catalog.to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS valid_until,
       r.rolsuper, r.rolreplication, r.rolbypassrls,
       coalesce((SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0), '{}') AS settings,
       coalesce((SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s
                 WHERE s.setrole = r.oid
                   AND s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())), '{}') AS database_settings,
       coalesce((SELECT pg_catalog.jsonb_agg(DISTINCT pg_catalog.jsonb_build_object(
                            'role', g.rolname, 'admin', m.admin_option,
                            'inherit', pg_catalog.to_jsonb(m) -> 'inherit_option', 'set', pg_catalog.to_jsonb(m) -> 'set_option'))::text
                 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                 WHERE m.member = r.oid AND g.rolname !~ '^pg_'), '[]') AS memberships,
       coalesce((SELECT pg_catalog.jsonb_agg(DISTINCT pg_catalog.jsonb_build_object(
                            'role', g.rolname, 'admin', m.admin_option,
                            'inherit', pg_catalog.to_jsonb(m) -> 'inherit_option', 'set', pg_catalog.to_jsonb(m) -> 'set_option'))::text
                 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                 WHERE m.member = r.oid AND g.rolname ~ '^pg_'), '[]') AS predefined
FROM pg_catalog.pg_roles r
WHERE r.rolname !~ '^pg_'
ORDER BY 1
