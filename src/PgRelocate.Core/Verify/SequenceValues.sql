-- The value each sequence would hand out next, so that "target behind source" is a simple comparison, read as the
-- copy reads them (Catalog/UserSequences.sql). $1: the sequences to read. Reading one locks it until the
-- transaction ends, so SchemaComparer reads them a batch to a transaction.
SELECT pg_catalog.format('%I.%I', q.nspname, q.relname), q.seqincrement,
       coalesce(q.last_value + q.seqincrement, q.seqstart) AS next_value,
       q.readable
FROM ({{user_sequences}}) q
WHERE q.oid = ANY($1)
