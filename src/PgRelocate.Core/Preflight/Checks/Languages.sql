-- The procedural languages besides plpgsql, each named and marked when untrusted (superuser only). No parameters.
SELECT lanname || CASE WHEN lanpltrusted THEN '' ELSE ' (untrusted: superuser only)' END
FROM pg_language
WHERE lanispl AND lanname <> 'plpgsql'
ORDER BY 1
