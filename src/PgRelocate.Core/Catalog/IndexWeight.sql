-- How much longer an index of the access method am.amname (pg_am joined as am) takes to build than a B-tree of the
-- same size on disk, per byte: measured, a GIN build over jsonb about eight times as long, a GiST about four. The
-- copy orders its work by it (Copy/SnapshotSizes.sql); the estimate counts a build that is not a B-tree's by it.
CASE am.amname WHEN 'gin' THEN 8 WHEN 'gist' THEN 4 ELSE 1 END
