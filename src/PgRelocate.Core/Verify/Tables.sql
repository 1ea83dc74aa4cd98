-- The ordinary tables (and partitions) whose rows are compared, with their columns in order, the
-- columns of the key used to locate differing rows (the primary key, else the first unique index on
-- not-null columns), and the size on disk to start the largest tables first: the catalog's estimate, as
-- pg_relation_size would lock every table (a live source's TRUNCATE could then deadlock with this query).
-- "native" marks the columns whose type's own hash function can stand for their text: built-in types
-- whose equal values always print the same (not numeric 1.0 = 1.00, not interval '1 day' = '24 hours',
-- not floats' 0 = -0, not enums, whose hash is their OID), and text only under a deterministic collation.
SELECT n.nspname, c.relname, c.oid::bigint AS oid,
       array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
       array(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS types,
       array(SELECT a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'oid'::regtype, 'bool'::regtype,
                                   'bytea'::regtype, 'date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype, 'time'::regtype,
                                   'uuid'::regtype, 'text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype, '"char"'::regtype)
                    AND coalesce((SELECT co.collisdeterministic FROM pg_collation co WHERE co.oid = a.attcollation), true)
             FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS native,
       (SELECT array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum ORDER BY k.ord)
        FROM pg_index i
        WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
          AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) k(attnum) LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                          WHERE a.attnum IS NULL OR NOT a.attnotnull)
        ORDER BY i.indisprimary DESC, i.indnatts, i.indexrelid LIMIT 1) AS key,
       c.relpages::bigint * current_setting('block_size')::bigint AS size
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
-- The user tables, as the catalog vocabulary defines them (Catalog/UserTables.sql).
WHERE c.oid IN ({{user_tables}})
