-- The user objects: what makes a database "not empty", and what a restore would collide with. Everything
-- in a user schema that is not a member of an extension (UserObjectList.sql, the list EmptyPlan.sql drops),
-- the user schemas themselves (not public, not the schemas of extensions and of the provider), the
-- publications (a restore makes its own again: "publication ... already exists"), and large objects.
-- Extensions and what belongs to them do not count: a provider installs some in every database.
-- Each row also names its object as pg_depend does (classid, objid) and its owner (EmptyBlockers.sql).
SELECT o.kind, o.name, o.classid, o.objid, o.owner FROM ({{user_object_list}}) o
UNION ALL
SELECT 'schema', n.nspname, n.tableoid, n.oid, n.nspowner FROM pg_catalog.pg_namespace n
WHERE n.oid IN ({{user_schemas}}) AND n.nspname <> 'public' AND n.oid NOT IN ({{extension_schemas}})
UNION ALL
SELECT 'publication', p.pubname, p.tableoid, p.oid, p.pubowner FROM pg_catalog.pg_publication p
UNION ALL
SELECT 'large object', l.oid::text, l.tableoid, l.oid, l.lomowner FROM pg_catalog.pg_largeobject_metadata l
ORDER BY 1, 2
