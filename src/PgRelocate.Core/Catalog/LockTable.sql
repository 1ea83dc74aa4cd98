-- What sizes the server's shared lock table: it holds about max_locks_per_transaction locks for each
-- connection and prepared transaction, shared by every session (a transaction may take more than its share
-- while others take less). Background workers add slots the server does not promise to a client: left out.
SELECT pg_catalog.current_setting('max_locks_per_transaction')::int,
       pg_catalog.current_setting('max_connections')::int,
       pg_catalog.current_setting('max_prepared_transactions')::int
