-- The primary key and unique constraints of every table: the table's oid, the constraint's name, whether it is the
-- primary key, deferrable, initially deferred, the name of its index and the index's definition. No parameters.
SELECT c.oid, c.conname, c.contype = 'p', c.condeferrable, c.condeferred, i.relname, pg_catalog.pg_get_indexdef(c.conindid)
FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_class i ON i.oid = c.conindid
WHERE c.contype IN ('p', 'u') AND c.conrelid <> 0
