-- Tables whose rows UPDATE and DELETE could not identify once published: no primary key and replica identity
-- DEFAULT, or replica identity NOTHING. Leaf tables: a partition's own identity is what its changes carry.
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence = 'p'
  AND c.relnamespace IN ({{user_schemas}})
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  AND (c.relreplident = 'n'
       OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
ORDER BY 1, 2
