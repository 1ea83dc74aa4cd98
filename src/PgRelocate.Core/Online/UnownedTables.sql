-- The tables an online migration publishes (Catalog/PublicationTables.sql) that the login role does not own
-- and is no member of the owner of: a publication needs ownership.
SELECT c.oid, n.nspname, c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{publication_tables}})
  AND NOT pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER')
ORDER BY 2, 3
