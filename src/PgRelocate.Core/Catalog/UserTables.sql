-- The user tables: the tables pg_dump dumps the rows of. Ordinary tables, leaf partitions and inheritance
-- children (relkind r; a partitioned parent holds no rows), unlogged ones included, of the user relations
-- (UserRelations.sql: in a user schema, not temporary, not a member of an extension).
SELECT c.oid FROM pg_catalog.pg_class c
WHERE c.relkind = 'r' AND c.oid IN ({{user_relations}})
