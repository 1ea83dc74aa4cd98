-- The estimate's view of the source's foreign keys, one row for each check the copy's post-data makes: a constraint
-- on a partitioned table once (its partitions' are made with it), of a user relation. For each, the referencing and
-- the referenced table (their oids, which say which checks touch the same table) and each one's rows as the catalog
-- estimates them: a partitioned table's are its partitions' together.
WITH RECURSIVE fk AS (
    SELECT co.conrelid, co.confrelid
    FROM pg_catalog.pg_constraint co
    WHERE co.contype = 'f' AND co.conparentid = 0 AND co.conrelid IN ({{user_relations}})
), tree (root, oid, kind) AS (
    SELECT c.oid, c.oid, c.relkind FROM pg_catalog.pg_class c
    WHERE c.oid IN (SELECT conrelid FROM fk UNION SELECT confrelid FROM fk)
    UNION ALL
    SELECT t.root, i.inhrelid, c.relkind
    FROM tree t
    JOIN pg_catalog.pg_inherits i ON i.inhparent = t.oid
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    WHERE t.kind = 'p'
), counted AS (
    SELECT t.root, sum(greatest(c.reltuples, 0))::bigint AS n
    FROM tree t JOIN pg_catalog.pg_class c ON c.oid = t.oid
    WHERE c.relkind = 'r'
    GROUP BY t.root
)
SELECT fk.conrelid::bigint, fk.confrelid::bigint, coalesce(a.n, 0), coalesce(b.n, 0)
FROM fk
LEFT JOIN counted a ON a.root = fk.conrelid
LEFT JOIN counted b ON b.root = fk.confrelid
ORDER BY 1, 2
