-- The roles other than the login role that own the database's own relations, schemas and routines, with how
-- many objects each owns. pg_database_owner stands for whoever owns the database and travels fine.
SELECT r.rolname, count(*)
FROM (
    SELECT c.relowner AS owner FROM pg_catalog.pg_class c
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.oid IN ({{user_relations}})
    UNION ALL
    SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.oid IN ({{user_schemas}})
    UNION ALL
    SELECT p.proowner FROM pg_catalog.pg_proc p WHERE p.oid IN ({{user_functions}})
) o JOIN pg_catalog.pg_roles r ON r.oid = o.owner
WHERE r.rolname NOT IN (current_user, 'pg_database_owner')
GROUP BY 1 ORDER BY 2 DESC, 1
