-- How the tables the queue names are described to the apply: each column (dropped ones left out) in the order
-- their record's text carries them, whether it is generated (its value is the old source's own), its type, and
-- whether it is part of the key that finds a row: the replica identity's index, else the primary key; none (the
-- whole row finds it) with REPLICA IDENTITY FULL or without a key.
SELECT c.oid, n.nspname::text, c.relname::text, a.attname::text, a.attgenerated <> '', a.atttypid, a.atttypmod,
       coalesce(a.attnum = ANY (k.indkey::int2[]), false)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN LATERAL (
    SELECT i.indkey FROM pg_catalog.pg_index i
    WHERE i.indrelid = c.oid AND c.relreplident <> 'f'
      AND ((c.relreplident = 'i' AND i.indisreplident) OR (c.relreplident <> 'i' AND i.indisprimary))
    LIMIT 1
) k ON true
WHERE c.oid = ANY ($1)
ORDER BY c.oid, a.attnum
