-- The user tables and whether the way back's capture triggers are on them ("schema"."table", captured, oid,
-- whether the login role may create a trigger on it): every table the applications write, the tool's own
-- schema left out (its queue must never capture itself).
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),
       EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'pgrelocate_fallback_row'),
       c.oid, pg_catalog.has_table_privilege(c.oid, 'TRIGGER')
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{user_tables}}) AND n.nspname <> 'pgrelocate_online'
ORDER BY 1
