-- The value each sequence would hand out next, so that "target behind source" is a simple comparison.
-- pg_sequences.last_value is null until the sequence is first used (or when we may not read it).
SELECT format('%I.%I', schemaname, sequencename), increment_by,
       coalesce(last_value + increment_by, start_value) AS next_value,
       has_sequence_privilege(format('%I.%I', schemaname, sequencename), 'SELECT') AS readable
FROM pg_sequences
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
