-- The tables on the target that belong to an extension (its configuration tables among them), and whether
-- the login role may add rows to them; for a configuration table, the condition pg_dump selects the rows to
-- dump with (empty: all of them), and whether the login role may delete those.
SELECT n.nspname AS schema,
       c.relname AS name,
       e.extname AS extension,
       has_table_privilege(c.oid, 'INSERT') AS writable,
       e.extcondition[pg_catalog.array_position(e.extconfig, c.oid)] AS condition,
       c.oid = ANY (e.extconfig) AS config,
       has_table_privilege(c.oid, 'DELETE') AS deletable
FROM ({{extension_members}}) d
JOIN pg_catalog.pg_class c ON c.oid = d.objid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
  AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
  AND c.relkind IN ('r', 'p')
