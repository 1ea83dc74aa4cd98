-- Whether the switch's re-enabling (TargetState.EnableAsync) leaves every user trigger of the target plainly
-- enabled: each trigger disabled there is one the follow's record lists, and each one listed was plainly enabled
-- when recorded (not ENABLE ALWAYS or REPLICA). Then a trigger the follow disabled is, after the switch, the
-- source's enabled one. Code fills in @schema, the tool's schema's name; run only where the record exists.
SELECT NOT EXISTS (SELECT FROM @schema.disabled_triggers d WHERE d.enabled <> 'O')
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                   WHERE NOT t.tgisinternal AND t.tgenabled <> 'O'
                     AND NOT EXISTS (SELECT FROM @schema.disabled_triggers d
                                     WHERE t.tgrelid = pg_catalog.to_regclass(d.table_name) AND t.tgname = d.trigger_name))
