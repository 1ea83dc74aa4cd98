-- The captured changes of the transactions over whose last write is in [$1, $2), each transaction at its last
-- write's place, its rows in the order written (see CaptureCreate.sql). Only transactions whose rows this
-- snapshot sees are here: committed ones; a rolled back one's rows never were.
WITH done AS (
    SELECT xid, max(seq) AS last, min(at) AS at FROM pgrelocate_online.fallback_queue
    GROUP BY xid HAVING max(seq) >= $1 AND max(seq) < $2
)
SELECT d.last, d.at, q.rel, q.kind, q.old_row, q.new_row
FROM pgrelocate_online.fallback_queue q JOIN done d USING (xid)
ORDER BY d.last, q.seq
