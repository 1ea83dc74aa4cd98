-- A target table's columns for the applier, in their order: name, type as the target writes it, whether it is
-- generated (left out of what the stream is matched to), whether the table is partitioned, type OID and modifier.
SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', c.relkind = 'p', a.atttypid, a.atttypmod
FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
WHERE a.attrelid = pg_catalog.to_regclass(@name) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
