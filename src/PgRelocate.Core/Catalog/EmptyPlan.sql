-- The statements that empty a database for a restore, in order: only what the restore will make again
-- and the login role may drop and make again. What survives: every extension the login role did not
-- create or could not create again (the provider's), the extensions those need, everything that belongs
-- to an extension, the schemas those live in (public among them, when a provider put extensions there),
-- and whatever belongs to other roles (EmptyBlockers.sql finds it first, and the emptying refuses).
-- Dependents go first, so that each statement drops little and the emptying can commit in batches that fit
-- the server's lock table (a DROP ... CASCADE locks everything it takes with it): the objects one by one
-- (UserObjectList.sql: views before tables, tables before functions and types; leaf partitions, then
-- partitioned partitions, before their parents), then the login role's publications (their tables are gone
-- by then, so each DROP locks little; another role's is left, and EmptyBlockers.sql refuses it), then the
-- extensions, then the schemas (by then holding only what the list has no kind for), then the large objects,
-- a thousand per statement (repeated until none is
-- left: classid is null). Each statement names what it drops as pg_depend does (classid, objid):
-- EmptyBlockers.sql walks from them to what the CASCADEs would take with them.
WITH me AS (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user),
members AS ({{extension_members}}),
creatable AS (SELECT x.name FROM ({{creatable_extensions}}) x WHERE x.can_create),
kept_ext AS (
    SELECT e.oid, e.extnamespace FROM pg_catalog.pg_extension e
    WHERE e.extname = 'plpgsql' OR e.extowner NOT IN (SELECT oid FROM me) OR e.extname NOT IN (SELECT name FROM creatable)),
dropped_ext AS (
    SELECT e.tableoid, e.oid, e.extname FROM pg_catalog.pg_extension e
    WHERE e.oid NOT IN (SELECT oid FROM kept_ext)
      -- an extension a surviving one requires (earthdistance needs cube) survives too
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_extension'::regclass AND d.refclassid = 'pg_catalog.pg_extension'::regclass
                        AND d.refobjid = e.oid AND d.objid IN (SELECT oid FROM kept_ext))),
kept_schemas AS (
    SELECT extnamespace AS oid FROM kept_ext
    UNION
    SELECT n.oid FROM pg_catalog.pg_namespace n
    WHERE n.nspname IN (SELECT (pg_catalog.pg_identify_object(m.classid, m.objid, 0)).schema FROM members m
                        WHERE m.refobjid NOT IN (SELECT oid FROM dropped_ext) AND m.classid <> 'pg_catalog.pg_namespace'::regclass)),
user_schemas AS (SELECT n.tableoid, n.oid, n.nspname, n.nspowner FROM pg_catalog.pg_namespace n WHERE n.oid IN ({{user_schemas}})),
dropped_schemas AS (
    SELECT s.tableoid, s.oid, s.nspname FROM user_schemas s
    WHERE s.nspname <> 'public' AND pg_catalog.pg_has_role(current_user, s.nspowner, 'USAGE')
      AND s.oid NOT IN (SELECT oid FROM kept_schemas)),
-- objects in a schema the login role may not use cannot be dropped by it; they stay, and the check after refuses
remaining AS (SELECT s.oid, s.nspname FROM user_schemas s
              WHERE s.oid NOT IN (SELECT oid FROM dropped_schemas) AND pg_catalog.has_schema_privilege(s.oid, 'USAGE'))
SELECT o.drop_step AS step, o.drop_statement AS statement, o.drop_name AS name, o.classid, o.objid, o.drop_turn AS turn
FROM ({{user_object_list}}) o
WHERE (o.schema IN (SELECT oid FROM dropped_schemas) OR o.schema IN (SELECT oid FROM remaining))
  AND pg_catalog.pg_has_role(current_user, o.owner, 'USAGE')
UNION ALL
SELECT 13, pg_catalog.format('DROP PUBLICATION IF EXISTS %I', p.pubname), p.pubname, p.tableoid, p.oid, 0
FROM pg_catalog.pg_publication p WHERE pg_catalog.pg_has_role(current_user, p.pubowner, 'USAGE')
UNION ALL
SELECT 14, pg_catalog.format('DROP EXTENSION IF EXISTS %I CASCADE', e.extname), e.extname, e.tableoid, e.oid, 0
FROM dropped_ext e
UNION ALL
SELECT 15, pg_catalog.format('DROP SCHEMA IF EXISTS %I CASCADE', s.nspname), s.nspname, s.tableoid, s.oid, 0 FROM dropped_schemas s
UNION ALL
SELECT 16, 'SELECT pg_catalog.lo_unlink(l.oid) FROM (SELECT m.oid FROM pg_catalog.pg_largeobject_metadata m WHERE pg_catalog.pg_has_role(current_user, m.lomowner, ''USAGE'') LIMIT 1000) l',
       'large objects', NULL, NULL, 0
WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata)
ORDER BY 1, 6, 3
