-- The value each sequence would hand out next, so that "target behind source" is a simple comparison.
-- pg_sequences.last_value is null until the sequence is first used (or when we may not read it). The user
-- relations' sequences (Catalog/UserRelations.sql): the ones the migration carries. An extension's are made
-- again by CREATE EXTENSION.
SELECT format('%I.%I', s.schemaname, s.sequencename), s.increment_by,
       coalesce(s.last_value + s.increment_by, s.start_value) AS next_value,
       has_sequence_privilege(format('%I.%I', s.schemaname, s.sequencename), 'SELECT') AS readable
FROM pg_sequences s
JOIN pg_namespace n ON n.nspname = s.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
WHERE c.oid IN ({{user_relations}})
