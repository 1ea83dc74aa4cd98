-- The user objects in the user schemas, one row each: every relation, function, type, operator, collation
-- and text search configuration or dictionary in a user schema that is not a member of an extension. The one
-- list of their kinds: UserObjects.sql reads kind and name (is a database empty?), EmptyPlan.sql the drops
-- (drop_step orders them: views, materialized views, tables and composite types, sequences, routines, types,
-- operators, collations, text search configurations and dictionaries; drop_name orders within a step). So
-- the emptiness check and the emptying cannot disagree on what there is. Partitions are listed and marked,
-- and drop_turn puts them first in their step (leaf partitions, then partitioned ones), so that each DROP of
-- a partitioned table finds its partitions already gone rather than locking them all at once. A composite type is listed once, as a type: its membership of an
-- extension is recorded on its type, not its relation. Functions and operators drop by their regprocedure and
-- regoperator text, qualified when the caller sets an empty search_path. classid and objid name the object
-- as pg_depend does (EmptyBlockers.sql walks from them).
WITH members AS ({{extension_members}})
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END AS kind,
       n.nspname || '.' || c.relname AS name,
       c.relnamespace AS schema, c.relowner AS owner, c.relispartition AS partition,
       3 + CASE c.relkind WHEN 'v' THEN 0 WHEN 'm' THEN 1 WHEN 'S' THEN 3 ELSE 2 END AS drop_step,
       pg_catalog.format('DROP %s IF EXISTS %I.%I CASCADE',
              CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                             WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, n.nspname, c.relname) AS drop_statement,
       n.nspname || '.' || c.relname AS drop_name,
       c.tableoid AS classid, c.oid AS objid,
       CASE WHEN c.relispartition AND c.relkind <> 'p' THEN 0 WHEN c.relispartition THEN 1 ELSE 2 END AS drop_turn
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.oid IN ({{user_relations}})
UNION ALL
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid) THEN 'aggregate' ELSE 'function' END,
       n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       p.pronamespace, p.proowner, false, 7,
       pg_catalog.format('DROP %s IF EXISTS %s CASCADE',
              CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid) THEN 'AGGREGATE' ELSE 'ROUTINE' END,
              p.oid::pg_catalog.regprocedure),
       p.oid::pg_catalog.regprocedure::text, p.tableoid, p.oid, 0
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.oid IN ({{user_functions}})
UNION ALL
SELECT 'type', n.nspname || '.' || t.typname, t.typnamespace, t.typowner, false,
       CASE t.typtype WHEN 'c' THEN 5 ELSE 8 END,
       pg_catalog.format('DROP %s IF EXISTS %I.%I CASCADE', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, n.nspname, t.typname),
       n.nspname || '.' || t.typname, t.tableoid, t.oid, 0
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE t.typnamespace IN ({{user_schemas}})
  AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c'))
  AND (t.tableoid, t.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT 'operator', n.nspname || '.' || o.oprname, o.oprnamespace, o.oprowner, false, 9,
       pg_catalog.format('DROP OPERATOR IF EXISTS %s CASCADE', o.oid::pg_catalog.regoperator), o.oid::pg_catalog.regoperator::text,
       o.tableoid, o.oid, 0
FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
WHERE o.oprnamespace IN ({{user_schemas}}) AND (o.tableoid, o.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT 'collation', n.nspname || '.' || o.collname, o.collnamespace, o.collowner, false, 10,
       pg_catalog.format('DROP COLLATION IF EXISTS %I.%I CASCADE', n.nspname, o.collname), n.nspname || '.' || o.collname,
       o.tableoid, o.oid, 0
FROM pg_catalog.pg_collation o JOIN pg_catalog.pg_namespace n ON n.oid = o.collnamespace
WHERE o.collnamespace IN ({{user_schemas}}) AND (o.tableoid, o.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT 'text search configuration', n.nspname || '.' || o.cfgname, o.cfgnamespace, o.cfgowner, false, 11,
       pg_catalog.format('DROP TEXT SEARCH CONFIGURATION IF EXISTS %I.%I CASCADE', n.nspname, o.cfgname), n.nspname || '.' || o.cfgname,
       o.tableoid, o.oid, 0
FROM pg_catalog.pg_ts_config o JOIN pg_catalog.pg_namespace n ON n.oid = o.cfgnamespace
WHERE o.cfgnamespace IN ({{user_schemas}}) AND (o.tableoid, o.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT 'text search dictionary', n.nspname || '.' || o.dictname, o.dictnamespace, o.dictowner, false, 12,
       pg_catalog.format('DROP TEXT SEARCH DICTIONARY IF EXISTS %I.%I CASCADE', n.nspname, o.dictname), n.nspname || '.' || o.dictname,
       o.tableoid, o.oid, 0
FROM pg_catalog.pg_ts_dict o JOIN pg_catalog.pg_namespace n ON n.oid = o.dictnamespace
WHERE o.dictnamespace IN ({{user_schemas}}) AND (o.tableoid, o.oid) NOT IN (SELECT classid, objid FROM members)
