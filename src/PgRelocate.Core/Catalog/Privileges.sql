-- The privileges a restore without roles does not carry, one row per privilege: every grant to another role
-- than the owner (or to PUBLIC) on the database's own relations, columns, schemas, routines, types, large
-- objects, the database itself, and the default privileges (ALTER DEFAULT PRIVILEGES); and every privilege the
-- source revoked from what PostgreSQL grants by default (EXECUTE on a function from PUBLIC, ...). An object's
-- baseline is what pg_dump compares with too: its initial privileges (pg_init_privs: the public schema's) or
-- else acldefault. A schema's default privileges add to the global ones, so their baseline is empty. The owner's
-- own privileges are compared with its baseline too: what it revoked from itself (REVOKE UPDATE ON t FROM its
-- owner) is a row whose grantee is the owner, carried only by --roles (without it the login role owns everything).
-- Columns: kind (TABLE, SEQUENCE, COLUMN, SCHEMA, ROUTINE, TYPE, DOMAIN, LARGE OBJECT, DATABASE, or
-- DEFAULT TABLES/SEQUENCES/ROUTINES/TYPES/SCHEMAS), object (quoted, qualified; for COLUMN the table; for a
-- default privilege the schema or NULL; NULL for the database), column (quoted), owner (the object's owner, or
-- the role whose future objects a default privilege is for), grantee (NULL for PUBLIC), privilege,
-- grantable, revoke. An owner's own privileges are recorded as granted by itself (grantor = grantee); another
-- role's grant to the owner, and an entry granted by its grantee that is not the owner's, are left out.
WITH acls AS (
    SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
           pg_catalog.format('%I.%I', n.nspname, c.relname) AS object, NULL::text AS column_name,
           c.relowner AS owner, c.relacl AS acl,
           coalesce(ip.initprivs, pg_catalog.acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner)) AS baseline
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = c.oid AND ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.objsubid = 0
    WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.oid IN ({{user_relations}})
    UNION ALL
    SELECT 'COLUMN', pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.quote_ident(a.attname),
           c.relowner, a.attacl, coalesce(ip.initprivs, NULL::pg_catalog.aclitem[])
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = c.oid AND ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.objsubid = a.attnum
    WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.oid IN ({{user_relations}})
    UNION ALL
    SELECT 'SCHEMA', pg_catalog.quote_ident(n.nspname), NULL, n.nspowner, n.nspacl,
           coalesce(ip.initprivs, pg_catalog.acldefault('n', n.nspowner))
    FROM pg_catalog.pg_namespace n
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = n.oid AND ip.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND ip.objsubid = 0
    WHERE n.nspacl IS NOT NULL AND n.oid IN ({{user_schemas}})
    UNION ALL
    SELECT 'ROUTINE', pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)), NULL,
           p.proowner, p.proacl, coalesce(ip.initprivs, pg_catalog.acldefault('f', p.proowner))
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = p.oid AND ip.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND ip.objsubid = 0
    WHERE p.proacl IS NOT NULL AND p.oid IN ({{user_functions}})
    UNION ALL
    SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, pg_catalog.format('%I.%I', n.nspname, t.typname), NULL,
           t.typowner, t.typacl, coalesce(ip.initprivs, pg_catalog.acldefault('T', t.typowner))
    FROM pg_catalog.pg_type t
    JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = t.oid AND ip.classoid = 'pg_catalog.pg_type'::pg_catalog.regclass AND ip.objsubid = 0
    WHERE t.typacl IS NOT NULL AND t.typnamespace IN ({{user_schemas}})
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = t.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'LARGE OBJECT', l.oid::text, NULL, l.lomowner, l.lomacl, pg_catalog.acldefault('L', l.lomowner)
    FROM pg_catalog.pg_largeobject_metadata l
    WHERE l.lomacl IS NOT NULL
    UNION ALL
    SELECT 'DATABASE', NULL, NULL, d.datdba, d.datacl, pg_catalog.acldefault('d', d.datdba)
    FROM pg_catalog.pg_database d
    WHERE d.datname = pg_catalog.current_database() AND d.datacl IS NOT NULL
    UNION ALL
    SELECT 'DEFAULT ' || CASE a.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'ROUTINES'
                                              WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
           CASE WHEN a.defaclnamespace <> 0 THEN (SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_namespace n WHERE n.oid = a.defaclnamespace) END,
           NULL, a.defaclrole, a.defaclacl,
           CASE WHEN a.defaclnamespace = 0
                THEN pg_catalog.acldefault(CASE a.defaclobjtype WHEN 'S' THEN 's' ELSE a.defaclobjtype END::"char", a.defaclrole)
                ELSE NULL::pg_catalog.aclitem[] END
    FROM pg_catalog.pg_default_acl a
    WHERE a.defaclnamespace = 0 OR a.defaclnamespace IN ({{user_schemas}})
),
changes AS (
    SELECT x.kind, x.object, x.column_name, x.owner, e.grantee, e.privilege_type, e.is_grantable, false AS revoke,
           e.grantee = x.owner AND e.grantor = x.owner AS own
    FROM acls x CROSS JOIN LATERAL pg_catalog.aclexplode(x.acl) e
    WHERE (e.grantee <> e.grantor OR e.grantee = x.owner)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(x.baseline) b
                      WHERE b.grantee = e.grantee AND b.privilege_type = e.privilege_type AND b.is_grantable = e.is_grantable)
    UNION ALL
    SELECT x.kind, x.object, x.column_name, x.owner, b.grantee, b.privilege_type, false, true,
           b.grantee = x.owner AND b.grantor = x.owner
    FROM acls x CROSS JOIN LATERAL pg_catalog.aclexplode(x.baseline) b
    WHERE (b.grantee <> b.grantor OR b.grantee = x.owner)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(x.acl) e
                      WHERE e.grantee = b.grantee AND e.privilege_type = b.privilege_type
                        AND (b.grantee <> x.owner OR e.grantor = b.grantor))
)
SELECT c.kind, c.object, c.column_name, o.rolname AS owner,
       CASE WHEN c.grantee = 0 THEN NULL ELSE (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = c.grantee) END AS grantee,
       c.privilege_type, c.is_grantable, c.revoke
FROM changes c
JOIN pg_catalog.pg_roles o ON o.oid = c.owner
WHERE c.grantee <> c.owner OR c.own
ORDER BY c.kind, c.object NULLS FIRST, c.column_name NULLS FIRST, c.revoke DESC, 5 NULLS FIRST, c.privilege_type
