-- The schemas that belong with extensions rather than to the database's own contents: the schema an
-- extension was created in (pg_partman's "partman"), a schema holding any extension's objects, and a
-- schema the login role does not own whose owner is a superuser (a provider's "heroku_ext", even empty).
-- They neither make a database "not empty" nor get dropped when it is emptied.
SELECT n.oid FROM pg_catalog.pg_namespace n
WHERE n.oid IN ({{user_schemas}})
  AND (n.oid IN (SELECT e.extnamespace FROM pg_catalog.pg_extension e)
       OR n.nspname IN (SELECT (pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid)).schema
                        FROM ({{extension_members}}) d
                        WHERE d.classid <> 'pg_catalog.pg_namespace'::regclass)
       OR (NOT pg_catalog.pg_has_role(current_user, n.nspowner, 'USAGE')
           AND (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = n.nspowner)))
