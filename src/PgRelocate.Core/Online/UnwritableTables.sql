-- The target's user tables the follow could not write as the login role, each with why: a privilege the apply
-- uses that it lacks (SELECT for the rows an UPDATE or DELETE finds, INSERT, UPDATE, DELETE, TRUNCATE),
-- row-level security that applies to it (FORCE ROW LEVEL SECURITY, or a table it has no owner's rights on),
-- or no owner's rights (its triggers are disabled while following and enabled again at the cutover). With
-- --roles the tables have their source owners back, and the login role is a member of each (Catalog/TargetRoles).
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.concat_ws(', ',
         CASE WHEN NOT pg_catalog.pg_has_role(c.relowner, 'USAGE') THEN 'no owner''s rights: not an inheriting member of ' || pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(c.relowner)) END,
         CASE WHEN pg_catalog.row_security_active(c.oid) THEN 'row-level security applies to it' END,
         (SELECT 'no ' || pg_catalog.string_agg(p, ', ' ORDER BY p) FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
          WHERE NOT pg_catalog.has_table_privilege(c.oid, p)))
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{user_tables}})
  AND (NOT pg_catalog.pg_has_role(c.relowner, 'USAGE') OR pg_catalog.row_security_active(c.oid)
       OR NOT pg_catalog.has_table_privilege(c.oid, 'SELECT') OR NOT pg_catalog.has_table_privilege(c.oid, 'INSERT')
       OR NOT pg_catalog.has_table_privilege(c.oid, 'UPDATE') OR NOT pg_catalog.has_table_privilege(c.oid, 'DELETE')
       OR NOT pg_catalog.has_table_privilege(c.oid, 'TRUNCATE'))
ORDER BY 1
