-- Each user enum type (quoted, qualified) with its values in their order; the tool's schema @tool left out.
SELECT pg_catalog.format('%I.%I', n.nspname, t.typname),
       pg_catalog.array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
WHERE t.typtype = 'e' AND n.nspname <> @tool AND n.oid IN ({{user_schemas}})
GROUP BY 1
ORDER BY 1
