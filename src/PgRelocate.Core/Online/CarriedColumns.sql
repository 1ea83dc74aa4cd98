-- A source table's columns as the follow adds them to the target when the source added them while following,
-- in the source's order: name, type, collation when not the type's own, NOT NULL, default expression, identity
-- kind ('a', 'd' or ''), the value the rows that existed before the column was added hold
-- (a fast default, as the text of a one-element array; null when the rows were rewritten), and the sequence a
-- serial column's default takes its values from. Read with an empty search_path: every name qualified.
SELECT a.attname::text,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attcollation <> t.typcollation THEN pg_catalog.format('%I.%I', cn.nspname, co.collname) END,
       a.attnotnull,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid),
       a.attidentity::text,
       CASE WHEN a.atthasmissing THEN a.attmissingval::text END,
       CASE WHEN a.attidentity = '' THEN pg_catalog.pg_get_serial_sequence(@name, a.attname) END
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = pg_catalog.to_regclass(@name) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
