-- The indexes of the tables named by @schemas and @names (side by side), each with the primary key or unique
-- constraint it is the index of: a resumed copy keeps those it would build with the same definition. Read with an
-- empty search_path, so that the definitions are qualified as pg_dump's are.
SELECT n.nspname, t.relname, pg_catalog.pg_get_indexdef(x.indexrelid),
       c.conname, c.contype = 'p', coalesce(c.condeferrable, false), coalesce(c.condeferred, false), i.relname
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_catalog.pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u')
WHERE (n.nspname, t.relname) IN (SELECT s, r FROM unnest(@schemas::text[], @names::text[]) AS u(s, r))
