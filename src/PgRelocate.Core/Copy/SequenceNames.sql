-- The user sequences before PostgreSQL 10, which has neither pg_sequence nor pg_sequence_last_value: names only,
-- every value then read exactly (SequenceSync). From PostgreSQL 10 on, Catalog/UserSequences.sql.
SELECT n.nspname, c.relname, NULL::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND c.oid IN ({{user_relations}})
ORDER BY 1, 2
