-- The sample's second role's part, run as a superuser in the sample database after sample.sql: a schema the reporting
-- role owns, with a table of monthly totals of shop.orders, which it lets the database's owner read. DDL takes no
-- bind parameters: code fills in @reporting_schema (SampleDatabase.ReportingSchema), @reporter (the reporting role)
-- and @owner (the database's login role), each quoted as an identifier.
CREATE SCHEMA @reporting_schema AUTHORIZATION @reporter;
GRANT USAGE ON SCHEMA shop TO @reporter;
GRANT SELECT ON shop.orders TO @reporter;
SET ROLE @reporter;
CREATE TABLE @reporting_schema.monthly_summary (month date PRIMARY KEY, orders bigint NOT NULL, revenue numeric NOT NULL);
INSERT INTO @reporting_schema.monthly_summary
  SELECT date_trunc('month', placed_at)::date, count(*), sum(total) FROM shop.orders GROUP BY 1;
GRANT USAGE ON SCHEMA @reporting_schema TO @owner;
GRANT SELECT ON ALL TABLES IN SCHEMA @reporting_schema TO @owner;
RESET ROLE;
