-- Drops a copy's record (its run, ranges and finished items), then the tool's schema when nothing else is in it.
-- Safe to repeat. DDL and a DO block take no bind parameters: code fills in @schema, the tool's schema's name
-- (ToolSchema.Name, a plain lower-case identifier, written as it is both as an identifier and inside quotes).
DROP TABLE IF EXISTS @schema.copy_run, @schema.copy_ranges, @schema.copy_done;
DO $$ BEGIN
    IF to_regnamespace('@schema') IS NOT NULL AND NOT EXISTS (SELECT FROM pg_class WHERE relnamespace = to_regnamespace('@schema')) THEN
        DROP SCHEMA @schema;
    END IF;
END $$;
