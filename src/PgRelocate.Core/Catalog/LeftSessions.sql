-- The sessions a killed run of a migration left working on this database: a server notices that its client is gone
-- only when it next reads from it or writes to it, so a long statement (an index build) goes on, and commits. They
-- are named as a migration names its work ('pgrelocate migration ID WORK'); the caller's own (@except and this
-- session) are left out, and of the rest those of migration @id (the caller's: an earlier run of the same migration,
-- whose lock the caller now holds, so no live run of it has any) and those of another migration that writes here
-- (its transaction has an id: a migration's sessions on its source only read) without holding its lock here (its
-- lock's session, 'pgrelocate migration ID', is gone).
SELECT a.pid
FROM pg_catalog.pg_stat_activity a
WHERE a.datname = pg_catalog.current_database() AND a.pid <> pg_catalog.pg_backend_pid() AND a.pid <> ALL(@except)
  AND a.application_name LIKE 'pgrelocate migration % %'
  AND (pg_catalog.split_part(a.application_name, ' ', 3) = @id
       OR (a.backend_xid IS NOT NULL
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity l
                           WHERE l.datname = a.datname
                             AND l.application_name = 'pgrelocate migration ' || pg_catalog.split_part(a.application_name, ' ', 3))))
ORDER BY a.pid
