-- Every role but the predefined ones (pg_*): its name, whether it logs in and inherits, and the roles it is a
-- member of (with ADMIN OPTION). Which of them a database uses is decided by the caller, from its owners,
-- grantees and policy roles and the roles those are members of.
SELECT r.rolname, r.rolcanlogin, r.rolinherit,
       coalesce((SELECT pg_catalog.array_agg(g.rolname ORDER BY g.rolname)
                 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                 WHERE m.member = r.oid AND g.rolname !~ '^pg_'), '{}') AS member_of,
       coalesce((SELECT pg_catalog.array_agg(g.rolname ORDER BY g.rolname)
                 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                 WHERE m.member = r.oid AND m.admin_option AND g.rolname !~ '^pg_'), '{}') AS admin_of
FROM pg_catalog.pg_roles r
WHERE r.rolname !~ '^pg_'
ORDER BY 1
