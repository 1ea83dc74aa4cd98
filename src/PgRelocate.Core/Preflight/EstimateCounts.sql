-- The estimate's counts of the source: large objects, the size of pg_largeobject, and the user's sequences. No
-- parameters.
SELECT (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata),
       pg_catalog.pg_total_relation_size('pg_catalog.pg_largeobject'),
       (SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relkind = 'S' AND c.oid IN ({{user_relations}}))
