-- Sets each sequence the target has, by schema and name: @schemas, @names (text[]), @values (bigint[]) and @called
-- (boolean[]), side by side. A row per sequence asked for: schema, name and the value set, null where the target has
-- no such sequence.
SELECT s.schema, s.name, pg_catalog.setval(c.oid::pg_catalog.regclass, s.value, s.called)
FROM unnest(@schemas::text[], @names::text[], @values::bigint[], @called::boolean[]) AS s(schema, name, value, called)
LEFT JOIN (pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace)
       ON n.nspname = s.schema AND c.relname = s.name AND c.relkind = 'S'
