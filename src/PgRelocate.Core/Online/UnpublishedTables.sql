-- Tables that appeared on the source after the publication was made (their changes would be lost): the
-- permanent ones of the tables a publication lists (Catalog/PublicationTables.sql) that it does not hold.
SELECT n.nspname || '.' || c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid IN ({{publication_tables}}) AND c.relpersistence = 'p'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
                  WHERE p.pubname = @publication AND pr.prrelid = c.oid)
ORDER BY 1
