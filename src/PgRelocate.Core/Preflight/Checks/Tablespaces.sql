-- The tablespaces besides pg_default and pg_global that the user's relations are in (with their count), and the
-- database's default tablespace when it is not pg_default. No parameters.
SELECT t.spcname || ' (' || count(*) || ' tables and indexes)'
FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace
WHERE c.oid IN ({{user_relations}}) AND t.spcname NOT IN ('pg_default', 'pg_global')
GROUP BY t.spcname
UNION ALL
SELECT t.spcname || ' (the database default)'
FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace
WHERE d.datname = current_database() AND t.spcname <> 'pg_default'
ORDER BY 1
