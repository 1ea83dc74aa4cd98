-- The target's constraints that tie a table's rows to other rows, for the applier: each unique index (kind 'u',
-- its columns; an expression or partial one counts as covering no key column), each exclusion constraint
-- ('x') and each foreign key out of the table ('f', and whether deleting or updating the referenced row
-- deletes or changes this one: cascades, SET NULL, SET DEFAULT).
SELECT 'u' AS kind,
       CASE WHEN i.indexprs IS NULL AND i.indpred IS NULL THEN
           (SELECT array_agg(a.attname::text) FROM unnest(i.indkey::int2[]) AS k(attnum)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
       END AS columns,
       false AS cascades
FROM pg_catalog.pg_index i
WHERE i.indrelid = pg_catalog.to_regclass(@name) AND i.indisunique
UNION ALL
SELECT CASE c.contype WHEN 'x' THEN 'x' ELSE 'f' END, NULL,
       c.contype = 'f' AND (c.confdeltype IN ('c', 'n', 'd') OR c.confupdtype IN ('c', 'n', 'd'))
FROM pg_catalog.pg_constraint c
WHERE c.conrelid = pg_catalog.to_regclass(@name) AND c.contype IN ('f', 'x')
