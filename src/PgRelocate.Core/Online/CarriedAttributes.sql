-- What a table's description in the stream does not show, compared on both sides by the follow: each column's type,
-- NOT NULL, identity, generation ('s' stored, 'v' virtual) and default or generation expression, an identity's
-- sequence options as ADD GENERATED … AS IDENTITY takes them (its own sequence, not a serial's it may still own;
-- NULL for any other column), of the given tables
-- (quoted names) with their whole partition trees, or of every user table and partitioned table when none is given.
-- Each with its table's depth in its partition tree and its number, for the reader to put partitioned tables before
-- their partitions (a change there reaches the partitions); not sorted here, where the rows of thousands of tables
-- spill to disk. Read with an empty search_path: every name qualified alike on both sides.
SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),
       a.attname::text,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       a.attnotnull,
       a.attidentity::text,
       a.attgenerated::text,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid),
       (SELECT pg_catalog.format('SEQUENCE NAME %s START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s%s',
                                 s.seqrelid::regclass, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
                                 CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END)
        FROM pg_catalog.pg_sequence s
        JOIN pg_catalog.pg_depend dep ON dep.objid = s.seqrelid AND dep.classid = 'pg_catalog.pg_class'::regclass AND dep.deptype = 'i'
        WHERE a.attidentity <> '' AND dep.refclassid = 'pg_catalog.pg_class'::regclass AND dep.refobjid = c.oid AND dep.refobjsubid = a.attnum),
       CASE WHEN c.relispartition THEN (SELECT count(*) FROM pg_catalog.pg_partition_ancestors(c.oid)) ELSE 0 END::int,
       a.attnum::int
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND c.oid IN ({{user_relations}})
  AND (@tables::text[] IS NULL OR c.oid IN (
        SELECT t.relid
        FROM pg_catalog.unnest(@tables::text[]) q(name),
             pg_catalog.pg_partition_tree(coalesce(pg_catalog.pg_partition_root(pg_catalog.to_regclass(q.name)), pg_catalog.to_regclass(q.name))) t
        UNION
        SELECT pg_catalog.to_regclass(q.name) FROM pg_catalog.unnest(@tables::text[]) q(name)))
