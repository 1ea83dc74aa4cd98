-- Gives the target's table @table (a literal of its quoted, qualified name) the partitioned parent the source's
-- has now: @parent (a literal of the parent's quoted, qualified name, or NULL when the source's table is no
-- longer a partition) with the bound @bound (a literal of pg_get_expr's text, or NULL). Detached from a parent the
-- source's table no longer has, attached where it is not yet: run at the place of the source's DETACH or ATTACH
-- PARTITION in the stream's order, and a no-op when run again after a restart.
DO $$
DECLARE
    t regclass := pg_catalog.to_regclass(@table);
    p oid;
BEGIN
    SELECT i.inhparent INTO p FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    WHERE i.inhrelid = t AND c.relispartition;
    IF p IS NOT NULL AND p IS DISTINCT FROM pg_catalog.to_regclass(@parent)::oid THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s DETACH PARTITION %s', p::regclass, t);
        p := NULL;
    END IF;
    IF p IS NULL AND @parent IS NOT NULL THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ATTACH PARTITION %s %s', pg_catalog.to_regclass(@parent), t, @bound);
    END IF;
END $$
