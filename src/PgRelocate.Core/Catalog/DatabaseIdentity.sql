-- The identity of the database this session reached: the server's system identifier (pg_control_system(), chosen at
-- initdb), the database's oid and its name. No parameters.
SELECT s.system_identifier::text, d.oid, d.datname::text
FROM pg_catalog.pg_control_system() s, pg_catalog.pg_database d
WHERE d.datname = current_database()
