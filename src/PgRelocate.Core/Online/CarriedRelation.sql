-- The source table @oid as the change stream describes it (pgoutput's Relation message): its columns in order,
-- generated and dropped ones left out, each with its type and modifier and whether it is in the replica
-- identity (the primary key by default, an index's columns, or every column with FULL).
SELECT a.attname::text, a.atttypid, a.atttypmod,
       CASE c.relreplident
           WHEN 'f' THEN true
           WHEN 'n' THEN false
           ELSE coalesce(a.attnum = ANY ((SELECT x.indkey FROM pg_catalog.pg_index x
                                          WHERE x.indrelid = c.oid AND CASE c.relreplident WHEN 'i' THEN x.indisreplident ELSE x.indisprimary END
                                          LIMIT 1)::int2[]), false)
       END
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
WHERE c.oid = @oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum
