-- The user tables and sequences whose rows pg_dump could not read as the login role: no SELECT on them, or
-- no USAGE on their schema. pg_dump stops at the first one.
SELECT n.nspname::text, c.relname::text, CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE (c.oid IN ({{user_tables}}) OR (c.relkind = 'S' AND c.oid IN ({{user_relations}})))
  AND (NOT pg_catalog.has_schema_privilege(n.oid, 'USAGE') OR NOT pg_catalog.has_table_privilege(c.oid, 'SELECT'))
ORDER BY 1, 2
