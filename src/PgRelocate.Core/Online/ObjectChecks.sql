-- The check constraints each user table has of its own (not a partition's copy of its parent's), with their
-- definitions (NOT VALID included): pg_dump writes them inside the table's CREATE TABLE, which the comparison of
-- schema objects leaves to the stream, so they are compared here. The tool's schema @tool left out.
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), con.conname::text, pg_catalog.pg_get_constraintdef(con.oid)
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype = 'c' AND con.conislocal AND c.relkind IN ('r', 'p') AND n.nspname <> @tool
  AND c.oid IN ({{user_relations}})
ORDER BY 1, 2
