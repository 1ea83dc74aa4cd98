-- The roles a row-level security policy names (CREATE POLICY ... TO role), one row per policy and role: a
-- restore without roles fails on a policy whose role the target lacks. PUBLIC (0) is left out.
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS table_name, p.polname, r.rolname
FROM pg_catalog.pg_policy p
JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL pg_catalog.unnest(p.polroles) AS role_oid
JOIN pg_catalog.pg_roles r ON r.oid = role_oid
WHERE role_oid <> 0 AND c.oid IN ({{user_relations}})
ORDER BY 1, 2, 3
