-- The user objects: what makes a database "not empty", and what a restore would collide with. Everything
-- in a user schema that is not a member of an extension, the user schemas themselves (not public, not the
-- schemas of extensions and of the provider), and large objects. Extensions and what belongs to them do
-- not count: a provider installs some in every database.
WITH members AS (SELECT d.classid, d.objid FROM pg_catalog.pg_depend d WHERE d.deptype = 'e'),
schemas AS (SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n WHERE n.oid IN ({{user_schemas}}))
SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'relation' END AS kind,
       s.nspname || '.' || c.relname AS name
FROM pg_catalog.pg_class c JOIN schemas s ON s.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relpersistence <> 't'
  AND (c.tableoid, c.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid) THEN 'aggregate' ELSE 'function' END,
       s.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'
FROM pg_catalog.pg_proc p JOIN schemas s ON s.oid = p.pronamespace
WHERE (p.tableoid, p.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT 'type', s.nspname || '.' || t.typname
FROM pg_catalog.pg_type t JOIN schemas s ON s.oid = t.typnamespace
WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c'))
  AND (t.tableoid, t.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT 'collation', s.nspname || '.' || o.collname
FROM pg_catalog.pg_collation o JOIN schemas s ON s.oid = o.collnamespace
WHERE (o.tableoid, o.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT 'operator', s.nspname || '.' || o.oprname
FROM pg_catalog.pg_operator o JOIN schemas s ON s.oid = o.oprnamespace
WHERE (o.tableoid, o.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT 'text search configuration', s.nspname || '.' || o.cfgname
FROM pg_catalog.pg_ts_config o JOIN schemas s ON s.oid = o.cfgnamespace
WHERE (o.tableoid, o.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT 'text search dictionary', s.nspname || '.' || o.dictname
FROM pg_catalog.pg_ts_dict o JOIN schemas s ON s.oid = o.dictnamespace
WHERE (o.tableoid, o.oid) NOT IN (SELECT classid, objid FROM members)
UNION ALL
SELECT 'schema', s.nspname FROM schemas s
WHERE s.nspname <> 'public' AND s.oid NOT IN ({{extension_schemas}})
UNION ALL
SELECT 'large object', l.oid::text FROM pg_catalog.pg_largeobject_metadata l
ORDER BY 1, 2
