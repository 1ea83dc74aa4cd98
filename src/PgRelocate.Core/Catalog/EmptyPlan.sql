-- The statements that empty a database for a restore, in order: only what the restore will make again
-- and the login role may drop and make again. What survives: every extension the login role did not
-- create or could not create again (the provider's), the extensions those need, everything that belongs
-- to an extension, the schemas those live in (public among them, when a provider put extensions there),
-- and whatever belongs to other roles (EmptyBlockers.sql finds it first, and the emptying refuses).
-- Such a schema is never dropped with CASCADE: its own objects are dropped one by one instead. Each statement
-- names what it drops as pg_depend does (classid, objid; none for large objects): EmptyBlockers.sql walks
-- from them to what the CASCADEs would take with them.
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
SELECT 1 AS step, pg_catalog.format('DROP EXTENSION IF EXISTS %I CASCADE', e.extname) AS statement, e.extname AS name,
       e.tableoid AS classid, e.oid AS objid
FROM dropped_ext e
UNION ALL
SELECT 2, pg_catalog.format('DROP SCHEMA IF EXISTS %I CASCADE', s.nspname), s.nspname, s.tableoid, s.oid FROM dropped_schemas s
UNION ALL
-- the objects in the remaining schemas: the list the emptiness check reads (UserObjectList.sql), partitions
-- left to their parent's DROP
SELECT o.drop_step, o.drop_statement, o.drop_name, o.classid, o.objid
FROM ({{user_object_list}}) o JOIN remaining s ON s.oid = o.schema
WHERE NOT o.partition AND pg_catalog.pg_has_role(current_user, o.owner, 'USAGE')
UNION ALL
SELECT 13, 'SELECT pg_catalog.lo_unlink(l.oid) FROM pg_catalog.pg_largeobject_metadata l WHERE pg_catalog.pg_has_role(current_user, l.lomowner, ''USAGE'')', 'large objects',
       NULL, NULL
WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata)
ORDER BY 1, 3
