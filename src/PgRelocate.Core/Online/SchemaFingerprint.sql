-- The database's schema as one value, cheap to read, that changes whenever something pg_dump --schema-only writes
-- changes. Each catalog only DDL writes is summed by its rows' count and the transactions that wrote them: a DDL
-- that adds, changes or removes a row adds a row written by a newer transaction or takes one away. pg_class and
-- pg_trigger are written by other work too, so they are summed by the content DDL sets: not a table's file,
-- size or statistics (TRUNCATE, VACUUM and ANALYZE change those), not whether it once had children (ANALYZE
-- clears that), not a partition's bounds (attaching and detaching change pg_inherits: the bounds' text is the slowest
-- part to read), not a trigger's enabled state (the follow disables the target's triggers and enables them at the
-- switch): the triggers' modes are a column of their own. A catalog this server does not have is left out.
SELECT string_agg(c.relname || '=' || (pg_catalog.xpath('/row/f/text()', pg_catalog.query_to_xml(pg_catalog.format(
           'SELECT count(*) || '':'' || coalesce(sum(xmin::text::bigint), 0) AS f FROM pg_catalog.%I', c.relname), false, true, '')))[1]::text,
           ' ' ORDER BY c.relname)
       || ' pg_class=' || (SELECT count(*) || ':' || coalesce(sum(('x' || left(md5(row(oid, relname, relnamespace, reltype, reloftype, relowner, relam,
                                  relkind, relpersistence, relnatts, relchecks, relhasrules, relhastriggers, relrowsecurity, relforcerowsecurity,
                                  relreplident, relispartition, relacl, reloptions)::text), 16))::bit(64)::bigint), 0)
                           FROM pg_catalog.pg_class)
       || ' pg_trigger=' || (SELECT count(*) || ':' || coalesce(sum(('x' || left(md5(row(oid, tgrelid, tgname, tgfoid, tgtype, tgisinternal,
                                  tgconstrrelid, tgconstrindid, tgconstraint, tgdeferrable, tginitdeferred, tgnargs, tgattr, tgargs, tgqual,
                                  tgoldtable, tgnewtable)::text), 16))::bit(64)::bigint), 0)
                             FROM pg_catalog.pg_trigger) AS objects,
       (SELECT count(*) || ':' || coalesce(sum(('x' || left(md5(row(oid, tgenabled)::text), 16))::bit(64)::bigint), 0)
        FROM pg_catalog.pg_trigger) AS trigger_modes
FROM unnest(ARRAY['pg_namespace', 'pg_attribute', 'pg_attrdef', 'pg_constraint', 'pg_index', 'pg_inherits', 'pg_partitioned_table',
                  'pg_proc', 'pg_aggregate', 'pg_type', 'pg_enum', 'pg_range', 'pg_rewrite', 'pg_description', 'pg_seclabel',
                  'pg_sequence', 'pg_collation', 'pg_conversion', 'pg_cast', 'pg_operator', 'pg_opclass', 'pg_opfamily', 'pg_amop',
                  'pg_amproc', 'pg_ts_config', 'pg_ts_config_map', 'pg_ts_dict', 'pg_ts_parser', 'pg_ts_template', 'pg_policy',
                  'pg_statistic_ext', 'pg_default_acl', 'pg_init_privs', 'pg_language', 'pg_transform', 'pg_event_trigger',
                  'pg_extension', 'pg_foreign_data_wrapper', 'pg_foreign_server', 'pg_foreign_table']) AS c(relname)
WHERE pg_catalog.to_regclass('pg_catalog.' || c.relname) IS NOT NULL
