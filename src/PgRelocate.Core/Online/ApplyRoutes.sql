-- Pairs of target tables whose changes must be applied on one connection, in the source's order: a foreign
-- key ties a table to the one it references (constraints are checked at each statement, so a parent and its
-- children cannot be written by two transactions at once), and a partition to its partitioned table.
SELECT n.nspname::text, c.relname::text, rn.nspname::text, r.relname::text
FROM pg_catalog.pg_constraint f
JOIN pg_catalog.pg_class c ON c.oid = f.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_class r ON r.oid = f.confrelid
JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
WHERE f.contype = 'f'
UNION ALL
SELECT n.nspname::text, c.relname::text, pn.nspname::text, p.relname::text
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
