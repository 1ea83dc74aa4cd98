-- What emptying the target (EmptyPlan.sql) would drop or leave that the login role may not drop, found
-- before anything is dropped. Dropped: the plan's DROP ... CASCADE take everything that depends on what they
-- drop, whoever owns it, so this walks pg_depend from every object the plan names: an object depending on a
-- dropped one is dropped too (a view on a table, a trigger calling a function, a foreign key to a table, a
-- function taking a type, a column of a type, ...), and so is the object a dropped one is part of (a view's
-- rule takes its view, an extension's member its extension). Whatever it reaches is refused when the login
-- role may not drop it itself (its owner is a role the login role has no privileges of), or when it is an
-- extension the plan does not drop (the provider's). Left: a user object the plan does not reach (another
-- role's table in public, another role's schema, its large objects). One row each, named as the catalogs name
-- it (kind and qualified identity) with its owner; a part is named by its whole. Given @classids and @objids
-- (a batch of the emptying's statements, by what they drop) and @extensions (the extensions it drops), it walks
-- from those of them that are still there, without reading the whole plan again, and names nothing left.
-- @plan_rows and @left_rows are the whole plan (EmptyPlan.sql) and the user objects (UserObjects.sql) for the
-- whole emptying; for a batch, no rows: its look, once a transaction, then plans its own walk alone (5.7 ms
-- against 13 to 19 ms with the whole plan's text, at 20,000 tables).
WITH RECURSIVE whole AS (@plan_rows),
batch AS (
    SELECT x.c::oid AS classid, x.o::oid AS objid
    FROM ROWS FROM (pg_catalog.unnest(@classids::bigint[]), pg_catalog.unnest(@objids::bigint[])) AS x (c, o)),
plan AS (
    SELECT p.classid, p.objid FROM whole p WHERE @objids::bigint[] IS NULL
    UNION ALL
    SELECT b.classid, b.objid FROM batch b
    WHERE CASE b.classid
              WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN EXISTS (SELECT 1 FROM pg_catalog.pg_class x WHERE x.oid = b.objid)
              WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN EXISTS (SELECT 1 FROM pg_catalog.pg_proc x WHERE x.oid = b.objid)
              WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN EXISTS (SELECT 1 FROM pg_catalog.pg_type x WHERE x.oid = b.objid)
              WHEN 'pg_catalog.pg_operator'::pg_catalog.regclass THEN EXISTS (SELECT 1 FROM pg_catalog.pg_operator x WHERE x.oid = b.objid)
              WHEN 'pg_catalog.pg_collation'::pg_catalog.regclass THEN EXISTS (SELECT 1 FROM pg_catalog.pg_collation x WHERE x.oid = b.objid)
              WHEN 'pg_catalog.pg_ts_config'::pg_catalog.regclass THEN EXISTS (SELECT 1 FROM pg_catalog.pg_ts_config x WHERE x.oid = b.objid)
              WHEN 'pg_catalog.pg_ts_dict'::pg_catalog.regclass THEN EXISTS (SELECT 1 FROM pg_catalog.pg_ts_dict x WHERE x.oid = b.objid)
              WHEN 'pg_catalog.pg_extension'::pg_catalog.regclass THEN EXISTS (SELECT 1 FROM pg_catalog.pg_extension x WHERE x.oid = b.objid)
              WHEN 'pg_catalog.pg_namespace'::pg_catalog.regclass THEN EXISTS (SELECT 1 FROM pg_catalog.pg_namespace x WHERE x.oid = b.objid)
              WHEN 'pg_catalog.pg_publication'::pg_catalog.regclass THEN EXISTS (SELECT 1 FROM pg_catalog.pg_publication x WHERE x.oid = b.objid)
              ELSE false END),
dropped_ext AS (
    SELECT p.objid FROM whole p WHERE @objids::bigint[] IS NULL AND p.classid = 'pg_catalog.pg_extension'::pg_catalog.regclass
    UNION ALL
    SELECT x.e::oid FROM pg_catalog.unnest(@extensions::bigint[]) AS x (e) WHERE @objids::bigint[] IS NOT NULL),
dropped (classid, objid, objsubid) AS (
    SELECT p.classid, p.objid, 0 FROM plan p WHERE p.classid IS NOT NULL
    UNION
    SELECT x.classid, x.objid, x.objsubid
    FROM dropped o, LATERAL (
        SELECT d.classid, d.objid, d.objsubid FROM pg_catalog.pg_depend d
        WHERE d.refclassid = o.classid AND d.refobjid = o.objid AND (o.objsubid = 0 OR d.refobjsubid = o.objsubid)
        UNION ALL
        SELECT d.refclassid, d.refobjid, d.refobjsubid FROM pg_catalog.pg_depend d
        WHERE d.classid = o.classid AND d.objid = o.objid AND (o.objsubid = 0 OR d.objsubid = o.objsubid)
          AND d.deptype IN ('i', 'e')) x),
-- who may drop each: its owner, or for a part without one (a rule, a trigger, a policy, a constraint, a
-- default, an operator family's member, a cast) the owner of what it belongs to; none when not known
owned AS (
    SELECT o.classid, o.objid, o.objsubid,
           CASE o.classid
               WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN (SELECT x.relowner FROM pg_catalog.pg_class x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN (SELECT x.proowner FROM pg_catalog.pg_proc x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN (SELECT x.typowner FROM pg_catalog.pg_type x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_namespace'::pg_catalog.regclass THEN (SELECT x.nspowner FROM pg_catalog.pg_namespace x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_extension'::pg_catalog.regclass THEN (SELECT x.extowner FROM pg_catalog.pg_extension x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_operator'::pg_catalog.regclass THEN (SELECT x.oprowner FROM pg_catalog.pg_operator x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_opclass'::pg_catalog.regclass THEN (SELECT x.opcowner FROM pg_catalog.pg_opclass x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_opfamily'::pg_catalog.regclass THEN (SELECT x.opfowner FROM pg_catalog.pg_opfamily x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_amop'::pg_catalog.regclass THEN
                   (SELECT f.opfowner FROM pg_catalog.pg_amop x JOIN pg_catalog.pg_opfamily f ON f.oid = x.amopfamily WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_amproc'::pg_catalog.regclass THEN
                   (SELECT f.opfowner FROM pg_catalog.pg_amproc x JOIN pg_catalog.pg_opfamily f ON f.oid = x.amprocfamily WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_collation'::pg_catalog.regclass THEN (SELECT x.collowner FROM pg_catalog.pg_collation x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_conversion'::pg_catalog.regclass THEN (SELECT x.conowner FROM pg_catalog.pg_conversion x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_ts_config'::pg_catalog.regclass THEN (SELECT x.cfgowner FROM pg_catalog.pg_ts_config x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_ts_dict'::pg_catalog.regclass THEN (SELECT x.dictowner FROM pg_catalog.pg_ts_dict x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass THEN (SELECT x.stxowner FROM pg_catalog.pg_statistic_ext x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_event_trigger'::pg_catalog.regclass THEN (SELECT x.evtowner FROM pg_catalog.pg_event_trigger x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_language'::pg_catalog.regclass THEN (SELECT x.lanowner FROM pg_catalog.pg_language x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass THEN (SELECT x.fdwowner FROM pg_catalog.pg_foreign_data_wrapper x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_foreign_server'::pg_catalog.regclass THEN (SELECT x.srvowner FROM pg_catalog.pg_foreign_server x WHERE x.oid = o.objid)
               -- (pg_user_mapping is the superuser's to read; its view is everyone's)
               WHEN 'pg_catalog.pg_user_mapping'::pg_catalog.regclass THEN
                   (SELECT s.srvowner FROM pg_catalog.pg_user_mappings x JOIN pg_catalog.pg_foreign_server s ON s.oid = x.srvid WHERE x.umid = o.objid)
               WHEN 'pg_catalog.pg_default_acl'::pg_catalog.regclass THEN (SELECT x.defaclrole FROM pg_catalog.pg_default_acl x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_publication'::pg_catalog.regclass THEN (SELECT x.pubowner FROM pg_catalog.pg_publication x WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_publication_rel'::pg_catalog.regclass THEN
                   (SELECT p.pubowner FROM pg_catalog.pg_publication_rel x JOIN pg_catalog.pg_publication p ON p.oid = x.prpubid WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN
                   (SELECT coalesce(c.relowner, t.typowner) FROM pg_catalog.pg_constraint x
                    LEFT JOIN pg_catalog.pg_class c ON c.oid = x.conrelid LEFT JOIN pg_catalog.pg_type t ON t.oid = x.contypid
                    WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass THEN
                   (SELECT c.relowner FROM pg_catalog.pg_attrdef x JOIN pg_catalog.pg_class c ON c.oid = x.adrelid WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN
                   (SELECT c.relowner FROM pg_catalog.pg_rewrite x JOIN pg_catalog.pg_class c ON c.oid = x.ev_class WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN
                   (SELECT c.relowner FROM pg_catalog.pg_trigger x JOIN pg_catalog.pg_class c ON c.oid = x.tgrelid WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN
                   (SELECT c.relowner FROM pg_catalog.pg_policy x JOIN pg_catalog.pg_class c ON c.oid = x.polrelid WHERE x.oid = o.objid)
               -- a cast or a transform is its type's: the owner of either type may drop a cast
               WHEN 'pg_catalog.pg_cast'::pg_catalog.regclass THEN
                   (SELECT CASE WHEN pg_catalog.pg_has_role(current_user, s.typowner, 'USAGE') THEN s.typowner ELSE t.typowner END
                    FROM pg_catalog.pg_cast x JOIN pg_catalog.pg_type s ON s.oid = x.castsource JOIN pg_catalog.pg_type t ON t.oid = x.casttarget
                    WHERE x.oid = o.objid)
               WHEN 'pg_catalog.pg_transform'::pg_catalog.regclass THEN
                   (SELECT t.typowner FROM pg_catalog.pg_transform x JOIN pg_catalog.pg_type t ON t.oid = x.trftype WHERE x.oid = o.objid)
               -- any other part of a publication (a schema it lists, PostgreSQL 15 on) is its publication's
               ELSE (SELECT p.pubowner FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_publication p ON p.oid = d.refobjid
                     WHERE d.classid = o.classid AND d.objid = o.objid AND d.refclassid = 'pg_catalog.pg_publication'::pg_catalog.regclass
                     LIMIT 1)
           END AS owner
    FROM dropped o),
-- a part of a dropped object goes as its whole does, whoever owns the table it sits on: a view's rule, a
-- foreign key's triggers on the referenced table, a member of an extension (a trusted extension's members
-- belong to the superuser), and what is dropped with an object of the same owner (a table's trigger or index)
refused AS (
    SELECT w.* FROM owned w
    WHERE (w.owner IS NULL OR NOT pg_catalog.pg_has_role(current_user, w.owner, 'USAGE')
           OR (w.classid = 'pg_catalog.pg_extension'::pg_catalog.regclass
               AND w.objid NOT IN (SELECT e.objid FROM dropped_ext e)))
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN owned r ON r.classid = d.refclassid AND r.objid = d.refobjid
                                                           AND (r.objsubid = 0 OR r.objsubid = d.refobjsubid)
                      WHERE d.classid = w.classid AND d.objid = w.objid AND NOT (r.classid = w.classid AND r.objid = w.objid)
                        AND (d.deptype IN ('i', 'e') OR (d.deptype = 'a' AND r.owner = w.owner))))
SELECT b.kind, b.name, b.owner, b.left_behind FROM (
    SELECT CASE WHEN w.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
                     AND (SELECT t.typtype FROM pg_catalog.pg_type t WHERE t.oid = w.objid) = 'd' THEN 'domain'
                ELSE i.type END AS kind,
           i.identity AS name, coalesce(pg_catalog.pg_get_userbyid(w.owner)::text, 'not known') AS owner, false AS left_behind
    FROM refused w, LATERAL pg_catalog.pg_identify_object(w.classid, w.objid, w.objsubid) i
    -- a column of a relation dropped whole is named by its relation
    WHERE NOT (w.objsubid <> 0 AND EXISTS (SELECT 1 FROM dropped o WHERE o.classid = w.classid AND o.objid = w.objid AND o.objsubid = 0))
    UNION ALL
    SELECT u.kind, u.name, pg_catalog.pg_get_userbyid(u.owner)::text, true
    FROM (@left_rows) u
    WHERE @objids::bigint[] IS NULL
      AND (u.classid, u.objid) NOT IN (SELECT o.classid, o.objid FROM dropped o WHERE o.objsubid = 0)
      AND NOT (u.classid = 'pg_catalog.pg_largeobject_metadata'::pg_catalog.regclass AND pg_catalog.pg_has_role(current_user, u.owner, 'USAGE'))) b
ORDER BY b.left_behind, b.kind, b.name
