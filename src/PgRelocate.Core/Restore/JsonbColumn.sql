-- Whether the column @column (text) of the table @table (text, a qualified name) is of type jsonb.
SELECT a.atttypid = 'pg_catalog.jsonb'::pg_catalog.regtype FROM pg_catalog.pg_attribute a
WHERE a.attrelid = pg_catalog.to_regclass(@table) AND a.attname = @column AND NOT a.attisdropped
