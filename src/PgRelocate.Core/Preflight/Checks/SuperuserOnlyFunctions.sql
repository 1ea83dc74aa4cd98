-- The user's functions only a superuser may create outside an extension: in C, internal or an untrusted language
-- (not aggregates, whose pg_proc row says internal too), each as schema.name(arguments) language L. No parameters.
SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') language ' || l.lanname
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE (l.lanname IN ('c', 'internal') OR (l.lanispl AND NOT l.lanpltrusted))
  AND NOT EXISTS (SELECT 1 FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
  AND p.oid IN ({{user_functions}})
ORDER BY 1
