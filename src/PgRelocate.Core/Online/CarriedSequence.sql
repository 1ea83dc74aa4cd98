-- The statement that creates a serial column's sequence on the target as the source has it, for a serial column
-- added to a table while following (the column then owns it). Read with an empty search_path: every name qualified.
SELECT pg_catalog.format('CREATE SEQUENCE IF NOT EXISTS %s AS %s INCREMENT %s MINVALUE %s MAXVALUE %s START %s CACHE %s %s',
                         @sequence::text, pg_catalog.format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart,
                         s.seqcache, CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END)
FROM pg_catalog.pg_sequence s
WHERE s.seqrelid = pg_catalog.to_regclass(@sequence::text)
