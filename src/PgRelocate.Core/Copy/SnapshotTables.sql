-- The tables whose rows a copy moves: the user tables and the configuration tables of extensions (besides plpgsql).
-- Each with its oid, schema, name, columns (not the generated ones, in order), reltuples, binary_safe (no column of
-- an array or composite of a type created in the database) and, for an extension's configuration table, its
-- condition. No parameters.
SELECT c.oid, n.nspname, c.relname,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
             ORDER BY a.attnum) AS columns,
       c.reltuples,
       NOT EXISTS (
           SELECT 1 FROM pg_attribute a
           JOIN pg_type t ON t.oid = a.atttypid
           LEFT JOIN pg_type b ON b.oid = t.typbasetype
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
             AND ((t.oid >= 16384 AND (t.typtype = 'c' OR t.typelem <> 0))
                  OR (b.oid >= 16384 AND (b.typtype = 'c' OR b.typelem <> 0)))) AS binary_safe,
       e.oid IS NOT NULL AS config,
       e.extcondition[array_position(e.extconfig, c.oid)] AS config_condition
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_extension e ON c.oid = ANY (e.extconfig) AND e.extname <> 'plpgsql'
WHERE c.oid IN ({{user_tables}}) OR (e.oid IS NOT NULL AND c.relkind = 'r')
