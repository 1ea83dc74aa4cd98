-- How many of the transactions a snapshot saw in progress still are: the queue is read up to a number drawn
-- before that snapshot only once none is (see FallbackQueue).
SELECT count(*) FROM pg_catalog.txid_snapshot_xip($1::text::txid_snapshot) x WHERE pg_catalog.txid_status(x) = 'in progress'
