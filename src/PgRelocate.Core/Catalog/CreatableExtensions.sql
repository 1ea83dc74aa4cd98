-- The extensions this server offers and whether the login role may CREATE EXTENSION each (default
-- version): a superuser may create any; others one marked superuser = false, or a trusted one
-- (PostgreSQL 13+) given CREATE on the database, as its owner has. "trusted" is read through to_jsonb
-- because older servers lack the column.
SELECT a.name::text, a.default_version::text, a.installed_version::text,
       (SELECT n.nspname::text FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = a.name),
       (SELECT r.rolname::text FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_roles r ON r.oid = e.extowner WHERE e.extname = a.name),
       coalesce(bool_or(NOT v.superuser), false) AS unprivileged,
       coalesce(bool_or((to_jsonb(v) ->> 'trusted')::boolean), false) AS trusted,
       coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user), false)
         OR coalesce(bool_or(NOT v.superuser), false)
         OR (coalesce(bool_or((to_jsonb(v) ->> 'trusted')::boolean), false)
             AND pg_catalog.has_database_privilege(current_database(), 'CREATE')) AS can_create
FROM pg_catalog.pg_available_extensions a
LEFT JOIN pg_catalog.pg_available_extension_versions v ON v.name = a.name AND v.version = a.default_version
GROUP BY a.name, a.default_version, a.installed_version
