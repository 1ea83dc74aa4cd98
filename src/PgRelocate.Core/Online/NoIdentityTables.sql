-- Tables whose rows UPDATE and DELETE could not identify once published: no primary key and replica identity
-- DEFAULT, or replica identity NOTHING. Permanent user tables (leaf tables: a partition's own identity is what
-- its changes carry).
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{user_tables}}) AND c.relpersistence = 'p'
  AND (c.relreplident = 'n'
       OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
ORDER BY 1, 2
