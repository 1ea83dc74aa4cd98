-- The objects a role other than the login role owns, with --roles given back to it on the target after a
-- restore that made the login role their owner: every user object of UserObjectList.sql (its drop statement
-- names it, quoted and qualified, with its kind: the ALTER ... OWNER TO form takes the same words), the user
-- schemas and the large objects. A sequence a table owns (serial, identity) follows its table. The caller sets
-- an empty search_path, so routines and operators are qualified. pg_database_owner stands for whoever owns the
-- database and travels fine. Columns: what to alter ("TABLE shop.orders", "SCHEMA shop"), its schema (quoted;
-- NULL for a schema or a large object), its owner; schemas come last.
WITH objects AS ({{user_object_list}})
SELECT pg_catalog.regexp_replace(o.drop_statement, '^DROP (.*) IF EXISTS (.*) CASCADE$', '\1 \2') AS object,
       pg_catalog.quote_ident(n.nspname) AS schema_name, r.rolname AS owner, 0 AS step
FROM objects o
JOIN pg_catalog.pg_namespace n ON n.oid = o.schema
JOIN pg_catalog.pg_roles r ON r.oid = o.owner
WHERE r.rolname NOT IN (current_user, 'pg_database_owner')
  AND NOT (o.kind = 'sequence' AND EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = o.objid
          AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT 'LARGE OBJECT ' || l.oid::text, NULL, r.rolname, 1
FROM pg_catalog.pg_largeobject_metadata l
JOIN pg_catalog.pg_roles r ON r.oid = l.lomowner
WHERE r.rolname NOT IN (current_user, 'pg_database_owner')
UNION ALL
SELECT 'SCHEMA ' || pg_catalog.quote_ident(n.nspname), NULL, r.rolname, 2
FROM pg_catalog.pg_namespace n
JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
WHERE n.oid IN ({{user_schemas}}) AND r.rolname NOT IN (current_user, 'pg_database_owner')
ORDER BY 4, 1
