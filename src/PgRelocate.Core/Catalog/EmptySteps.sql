-- The emptying's statements (EmptyPlan.sql) in the order they run, each with the number of locks it takes
-- in the server's shared lock table: a DROP ... CASCADE locks every object it drops (its indexes, TOAST
-- table, row type, constraints, defaults, sequences, triggers, ... and whatever depends on them), so this
-- walks pg_depend from each dropped object, stopping at what an earlier statement has dropped already. A
-- foreign key also locks the table it refers to: counted once more. The large objects' statement (no classid)
-- unlinks at most a thousand. The caller commits in batches whose sum fits the lock table.
WITH RECURSIVE plan AS (
    SELECT p.step, p.statement, p.name, p.classid, p.objid,
           pg_catalog.row_number() OVER (ORDER BY p.step, p.turn, p.name) AS ord
    FROM ({{empty_plan}}) p),
roots AS (SELECT p.ord, p.classid, p.objid FROM plan p WHERE p.classid IS NOT NULL),
reach (ord, classid, objid) AS (
    SELECT r.ord, r.classid, r.objid FROM roots r
    UNION
    SELECT w.ord, d.classid, d.objid
    FROM reach w JOIN pg_catalog.pg_depend d ON d.refclassid = w.classid AND d.refobjid = w.objid
    WHERE NOT EXISTS (SELECT 1 FROM roots e WHERE e.classid = d.classid AND e.objid = d.objid AND e.ord < w.ord)),
counted AS (
    SELECT w.ord, pg_catalog.count(*)
           + pg_catalog.count(*) FILTER (WHERE w.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
                                         AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.oid = w.objid AND c.contype = 'f')) AS locks
    FROM reach w GROUP BY w.ord)
SELECT p.step, p.statement, p.name, p.classid, p.objid, coalesce(c.locks, 1000) AS locks
FROM plan p LEFT JOIN counted c ON c.ord = p.ord
ORDER BY p.ord
