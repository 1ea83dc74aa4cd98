-- The sessions holding the migration lock on this database (an advisory lock taken with the two-key form
-- pg_try_advisory_lock(@class, @object), which pg_locks shows with objsubid 2), other than @except.
SELECT l.pid FROM pg_catalog.pg_locks l
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.classid = @class::oid AND l.objid = @object::oid
  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database())
  AND l.pid <> ALL(@except)
