-- Each user table's heap size, and the work its copy causes: heap and TOAST plus its indexes as the catalog sizes
-- them (relpages), each weighed by its kind (IndexWeight.sql: a GIN index 6 and a GiST 4 times a B-tree). No parameters.
SELECT c.oid, s.heap,
       s.heap + coalesce(pg_relation_size(c.reltoastrelid), 0)
       + (SELECT coalesce(sum(ic.relpages::bigint * current_setting('block_size')::bigint * {{index_weight}}), 0)::bigint
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
          WHERE i.indrelid = c.oid)
FROM pg_class c
CROSS JOIN LATERAL (SELECT pg_relation_size(c.oid) AS heap) s
WHERE c.oid IN ({{user_tables}})
