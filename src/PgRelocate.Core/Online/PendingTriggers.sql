-- The triggers the follow's record lists (TargetState.SetModesAsync) that still exist and are not in the wanted
-- mode yet: each one's quoted, qualified table, its name and the mode it had when recorded. Code fills in
-- @schema, the tool's schema's name (OnlineNames.TargetSchema), and @wanted, the mode wanted: d.enabled (the
-- recorded mode, to re-enable) or 'D' (disabled).
SELECT d.table_name, d.trigger_name, d.enabled
FROM @schema.disabled_triggers d
JOIN pg_catalog.pg_trigger t ON t.tgrelid = pg_catalog.to_regclass(d.table_name) AND t.tgname = d.trigger_name
WHERE t.tgenabled <> @wanted
ORDER BY 1, 2
