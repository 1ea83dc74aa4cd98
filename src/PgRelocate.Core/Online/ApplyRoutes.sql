-- Pairs of target tables whose changes must be applied on one connection, in the source's order: a foreign
-- key ties a table to the one it references (constraints are checked at each statement, so a parent and its
-- children cannot be written by two transactions at once), and a partition to its partitioned table.
WITH tie (a, b) AS (
    SELECT conrelid, confrelid FROM pg_catalog.pg_constraint WHERE contype = 'f'
    UNION ALL
    SELECT inhrelid, inhparent FROM pg_catalog.pg_inherits
)
SELECT n.nspname::text, c.relname::text, rn.nspname::text, r.relname::text
FROM tie
JOIN pg_catalog.pg_class c ON c.oid = tie.a
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_class r ON r.oid = tie.b
JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace
