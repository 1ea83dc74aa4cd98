-- The ordinary tables (and partitions) whose rows are compared, with their columns in order, the
-- columns of the key used to locate differing rows (the primary key, else the first unique index on
-- not-null columns), and the size on disk to start the largest tables first: the catalog's estimate, as
-- pg_relation_size would lock every table (a live source's TRUNCATE could then deadlock with this query).
-- "native" marks the columns whose type's own hash function can stand for their text: built-in types
-- whose equal values always print the same (not numeric 1.0 = 1.00, not interval '1 day' = '24 hours',
-- not floats' 0 = -0, not enums, whose hash is their OID), and text only under a deterministic collation.
-- Each catalog is read once for all the tables (joined and grouped), not once a table: at thousands of
-- tables, subqueries per table made this the slowest read of verify.
WITH t AS (
    SELECT c.oid, n.nspname, c.relname, c.relpages
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    -- The user tables, as the catalog vocabulary defines them (Catalog/UserTables.sql).
    WHERE c.oid IN ({{user_tables}})
), col AS (
    SELECT a.attrelid,
           array_agg(a.attname::text ORDER BY a.attnum) AS columns,
           array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS types,
           array_agg(a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'oid'::regtype, 'bool'::regtype,
                                    'bytea'::regtype, 'date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype, 'time'::regtype,
                                    'uuid'::regtype, 'text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype, '"char"'::regtype)
                     AND coalesce(co.collisdeterministic, true) ORDER BY a.attnum) AS native
    FROM pg_attribute a
    JOIN t ON t.oid = a.attrelid
    LEFT JOIN pg_collation co ON co.oid = a.attcollation
    WHERE a.attnum > 0 AND NOT a.attisdropped
    GROUP BY a.attrelid
), key AS (
    -- The first usable unique index of each table: valid, on plain columns that are all NOT NULL.
    SELECT DISTINCT ON (i.indrelid) i.indrelid,
           array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
    FROM pg_index i
    JOIN t ON t.oid = i.indrelid
    WHERE i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
      AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) k(attnum) LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                      WHERE a.attnum IS NULL OR NOT a.attnotnull)
    ORDER BY i.indrelid, i.indisprimary DESC, i.indnatts, i.indexrelid
)
SELECT t.nspname, t.relname, t.oid::bigint AS oid,
       coalesce(col.columns, '{}') AS columns,
       coalesce(col.types, '{}') AS types,
       coalesce(col.native, '{}') AS native,
       key.columns AS key,
       t.relpages::bigint * current_setting('block_size')::bigint AS size
FROM t
LEFT JOIN col ON col.attrelid = t.oid
LEFT JOIN key ON key.indrelid = t.oid
