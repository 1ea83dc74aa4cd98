-- How much longer an index of the access method am.amname (pg_am joined as am) takes to build than a B-tree of the
-- same size on disk, per byte. Measured on 2 cores (PostgreSQL 15), a GIN over jsonb (1.5 million rows, 234 MB, the
-- copy's 4 MB of maintenance_work_mem) against a B-tree over 3 million integers (67 MB, built with 256 MB): 5.6 times as long
-- idle, 6.6 under unthrottled pgbench; a GiST about four times (not measured again). The copy orders its work by it
-- (Copy/SnapshotSizes.sql); the estimate counts a build that is not a B-tree's by it.
CASE am.amname WHEN 'gin' THEN 6 WHEN 'gist' THEN 4 ELSE 1 END
