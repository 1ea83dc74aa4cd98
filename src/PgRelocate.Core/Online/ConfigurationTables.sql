-- The configuration tables of the source's extensions (pg_extension_config_dump, PostGIS's spatial_ref_sys)
-- that the login role may read: the quoted name, the condition pg_dump selects the rows to dump with (empty:
-- all of them), and the columns a row is written with (generated ones left out), quoted.
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),
       coalesce(e.extcondition[pg_catalog.array_position(e.extconfig, c.oid)], ''),
       pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(a.attname) FROM pg_catalog.pg_attribute a
                                        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                                        ORDER BY a.attnum), ', ')
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_class c ON c.oid = ANY (e.extconfig)
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND e.extname <> 'plpgsql'
  AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
ORDER BY 1
