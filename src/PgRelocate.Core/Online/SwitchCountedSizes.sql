-- The bytes a count(*) of each named table reads on this side: its own file and, for a partitioned or inherited
-- table, its children's at every level. A table this side lacks is left out (one the source dropped while following
-- is counted nowhere: the cutover drops it on the target too).
WITH RECURSIVE named AS (
    SELECT t AS name, pg_catalog.to_regclass(t) AS root FROM pg_catalog.unnest($1::text[]) AS t
), tree AS (
    SELECT name, root AS relid FROM named WHERE root IS NOT NULL
    UNION ALL
    SELECT tree.name, i.inhrelid FROM tree JOIN pg_catalog.pg_inherits i ON i.inhparent = tree.relid
)
SELECT name, sum(pg_catalog.pg_relation_size(relid))::bigint FROM tree GROUP BY name
