-- The value each sequence would hand out next, so that "target behind source" is a simple comparison.
-- The last value is null until the sequence is first used (or when we may not read it), as pg_sequences
-- gives it. The user relations' sequences (Catalog/UserRelations.sql): the ones the migration carries. An
-- extension's are made again by CREATE EXTENSION. $1: the sequences to read. Reading one locks it until the
-- transaction ends, so SchemaComparer reads them a batch to a transaction; from pg_catalog's tables, not the
-- pg_sequences view, whose columns would be computed (and every sequence locked) before the filter applies.
SELECT format('%I.%I', n.nspname, c.relname), s.seqincrement,
       coalesce(CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE') THEN pg_sequence_last_value(c.oid::regclass) END + s.seqincrement,
                s.seqstart) AS next_value,
       has_sequence_privilege(c.oid, 'SELECT') AS readable
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = ANY($1)
  AND c.oid IN ({{user_relations}})
