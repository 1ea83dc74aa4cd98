-- The database's own functions, procedures and aggregates: in a user schema and not a member of an
-- extension (a subquery of pg_proc oids).
SELECT p.oid FROM pg_catalog.pg_proc p
WHERE p.pronamespace IN ({{user_schemas}})
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
