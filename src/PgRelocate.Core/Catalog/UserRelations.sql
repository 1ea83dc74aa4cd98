-- The relations of the database's own: every relation (tables, partitions, views, materialized views,
-- sequences, foreign tables, indexes) in a user schema, not temporary, and not a member of an extension
-- (CREATE EXTENSION makes those again). Queries narrow it by relkind (c.relkind = 'S' AND c.oid IN
-- ({{user_relations}})); UserTables.sql is its relkind r. A composite type's relation is listed too, but its
-- membership of an extension is its type's (pg_type): ask UserObjectList.sql for types.
SELECT c.oid FROM pg_catalog.pg_class c
WHERE c.relpersistence <> 't'
  AND c.relnamespace IN ({{user_schemas}})
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
