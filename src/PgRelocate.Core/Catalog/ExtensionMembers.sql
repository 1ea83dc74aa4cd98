-- What belongs to an extension (CREATE EXTENSION made it, DROP EXTENSION drops it): the object (classid,
-- objid, objsubid: its catalog, oid and column) and its extension (refclassid pg_extension, refobjid).
-- The user fragments leave these out; a query that needs the members themselves (an extension's tables on
-- the target, its composite types) reads them here.
SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid
FROM pg_catalog.pg_depend d
WHERE d.deptype = 'e'
