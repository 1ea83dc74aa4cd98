-- The user sequences (the user relations' sequences, Catalog/UserRelations.sql: the ones a migration carries; an
-- extension's are made again by CREATE EXTENSION) with what verify and the copy read of each: its increment and
-- start, the last value it handed out where the login may read it (null until first used, or when it may not be
-- read, as pg_sequences gives it) and whether it may be read. pg_sequence_last_value reads the sequence's page
-- without a query planned for it (1,000 sequences in 3 ms, where a SELECT last_value FROM each took 105 ms). From
-- pg_catalog's tables, not the pg_sequences view, whose columns would be computed (and every sequence locked) before
-- a caller's filter applies: a filter on oid is pushed down here. A sequence the catalog's snapshot still shows but
-- a concurrent transaction has dropped (has_sequence_privilege is then null) is left out: there is nothing to read
-- (asked of sequences alone: the planner may test the condition on pg_class's rows before the join).
-- PostgreSQL 10 and later (pg_sequence).
SELECT c.oid, n.nspname, c.relname, s.seqincrement, s.seqstart,
       CASE WHEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT,USAGE') THEN pg_catalog.pg_sequence_last_value(c.oid::pg_catalog.regclass) END AS last_value,
       pg_catalog.has_sequence_privilege(c.oid, 'SELECT') AS readable
FROM pg_catalog.pg_sequence s
JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{user_relations}})
  AND CASE WHEN c.relkind = 'S' THEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT') IS NOT NULL ELSE false END
