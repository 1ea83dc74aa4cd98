-- Whether the current database's own default is read-only for every role (ALTER DATABASE ... SET
-- default_transaction_read_only = on, as a migration's read-only step sets it): a boolean expression.
EXISTS (SELECT FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
        WHERE d.datname = pg_catalog.current_database() AND s.setrole = 0
          AND 'default_transaction_read_only=on' = ANY (s.setconfig))
