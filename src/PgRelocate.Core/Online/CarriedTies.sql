-- The tables the source table @oid must share an apply lane with (ApplyRoutes.sql says why): its parent when it
-- is a partition, and the tables its foreign keys reference; each as schema and name.
SELECT n.nspname::text, r.relname::text
FROM (SELECT i.inhparent AS other FROM pg_catalog.pg_inherits i WHERE i.inhrelid = @oid
      UNION
      SELECT k.confrelid FROM pg_catalog.pg_constraint k WHERE k.conrelid = @oid AND k.contype = 'f' AND k.confrelid <> @oid) o
JOIN pg_catalog.pg_class r ON r.oid = o.other
JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
