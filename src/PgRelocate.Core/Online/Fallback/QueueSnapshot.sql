-- The snapshot a round's horizon waits on (sent right after the number is drawn, in the same round trip: a statement
-- of its own, so its snapshot is taken after the draw; see FallbackQueue): its text, how many transactions it saw
-- in progress, and how many of them still are.
SELECT s::text,
       (SELECT count(*) FROM pg_catalog.txid_snapshot_xip(s)),
       (SELECT count(*) FROM pg_catalog.txid_snapshot_xip(s) x WHERE pg_catalog.txid_status(x) = 'in progress')
FROM pg_catalog.txid_current_snapshot() s
