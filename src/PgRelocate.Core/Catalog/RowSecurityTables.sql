-- The user tables whose rows the login role would not all see, because row-level security applies to it
-- (row_security_active): the table has it enabled and the role is neither a superuser nor BYPASSRLS, nor its
-- owner (a member of the owning role) unless the table also has FORCE ROW LEVEL SECURITY. Enabled without a
-- policy, it shows no rows at all. pg_dump stops at such a table ("query would be affected by row-level
-- security policy"); any other read silently sees only the rows the policies let through.
SELECT n.nspname::text, c.relname::text, c.relforcerowsecurity, pg_catalog.pg_has_role(c.relowner, 'USAGE'),
       (SELECT count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{user_tables}}) AND c.relrowsecurity AND pg_catalog.row_security_active(c.oid)
ORDER BY 1, 2
