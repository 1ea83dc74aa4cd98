-- The user tables: the tables pg_dump dumps the rows of. Ordinary tables, leaf partitions and inheritance
-- children (relkind r; a partitioned parent holds no rows), unlogged ones included, temporary ones not, in a
-- user schema, and not a member of an extension (CREATE EXTENSION makes those again).
SELECT c.oid FROM pg_catalog.pg_class c
WHERE c.relkind = 'r' AND c.relpersistence <> 't'
  AND c.relnamespace IN ({{user_schemas}})
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
