-- The settings of a copy's target writer (see CopySessions.OpenWriterAsync): no timeouts, asynchronous commit, the
-- maintenance_work_mem of its index builds, no check of function bodies, no row security and pg_dump's empty
-- search_path. SET takes no bind parameters: code fills in @maintenance_work_mem (a literal, e.g. '256MB').
SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0;
SET synchronous_commit = off; SET maintenance_work_mem = @maintenance_work_mem;
SET check_function_bodies = false; SET client_min_messages = warning; SET row_security = off;
SELECT pg_catalog.set_config('search_path', '', false);
