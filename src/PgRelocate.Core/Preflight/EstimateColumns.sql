-- The columns a COPY of the table carries (not the generated ones) whose types are built in, so a scratch table of
-- the same types on the target takes their binary rows (built in: below the first oid a database assigns, 16384):
-- name and type, in the table's order.
SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = @table::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
  AND t.oid < 16384
ORDER BY a.attnum
