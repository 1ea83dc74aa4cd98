-- The way back's capture on the target (migrate --online --fallback), created at the switch before the
-- applications are told of it: a queue of every change they make, written by the triggers below. seq orders
-- the writes (a sequence hands each call a number larger than every number it handed out before); xid is the
-- writing transaction; at is when that transaction began (for the lag). The tool reads only transactions that
-- are over, each at its last write's seq: docs/architecture.md ("The way back") says why that is the commit
-- order of any two transactions that touched the same row. Rows are kept as their record's text, written in
-- fixed output styles whatever the writing session's are, so the old source reads every value back the same.
-- kind: I, U, D, T (a row's insert, update, delete; a TRUNCATE), C and L (a table new to the capture: a
-- statement that creates it, a table it must share an apply lane with; see FallbackNewTables).
CREATE SCHEMA IF NOT EXISTS pgrelocate_online;
CREATE SEQUENCE IF NOT EXISTS pgrelocate_online.fallback_seq;
CREATE TABLE IF NOT EXISTS pgrelocate_online.fallback_queue (
    seq bigint NOT NULL DEFAULT pg_catalog.nextval('pgrelocate_online.fallback_seq') PRIMARY KEY,
    xid bigint NOT NULL DEFAULT pg_catalog.txid_current(),
    at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    rel oid NOT NULL,
    kind "char" NOT NULL,
    old_row text,
    new_row text
);
CREATE INDEX IF NOT EXISTS fallback_queue_xid ON pgrelocate_online.fallback_queue (xid);
CREATE OR REPLACE FUNCTION pgrelocate_online.fallback_capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET TimeZone = 'UTC'
SET extra_float_digits = 3 SET bytea_output = 'hex'
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO pgrelocate_online.fallback_queue (rel, kind, new_row) VALUES (TG_RELID, 'I', NEW::text);
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO pgrelocate_online.fallback_queue (rel, kind, old_row, new_row) VALUES (TG_RELID, 'U', OLD::text, NEW::text);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO pgrelocate_online.fallback_queue (rel, kind, old_row) VALUES (TG_RELID, 'D', OLD::text);
    ELSE
        INSERT INTO pgrelocate_online.fallback_queue (rel, kind) VALUES (TG_RELID, 'T');
    END IF;
    RETURN NULL;
END
$$;
-- A table new to the capture (created on the target after the switch), in the transaction that locked it and
-- put the triggers on it: the old source's copy emptied (T), then each of its rows queued as an insert, written
-- as the triggers write them. Returns how many rows.
CREATE OR REPLACE FUNCTION pgrelocate_online.fallback_enqueue(t regclass) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' SET TimeZone = 'UTC'
SET extra_float_digits = 3 SET bytea_output = 'hex'
AS $$
DECLARE
    n bigint;
BEGIN
    INSERT INTO pgrelocate_online.fallback_queue (rel, kind) VALUES (t, 'T');
    EXECUTE pg_catalog.format('INSERT INTO pgrelocate_online.fallback_queue (rel, kind, new_row) SELECT %s, ''I'', r::text FROM ONLY %s r', t::oid, t);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
