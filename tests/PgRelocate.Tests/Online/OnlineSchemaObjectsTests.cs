using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// Objects other than tables and columns made, changed and dropped on the source while an online migration follows
/// (a Rails or Django app's deploys: indexes, constraints, views, functions, triggers, types, sequences, comments, a
/// dropped table), none of which the stream carries: by the cutover the target's schema is the source's. Compared
/// outside the tool: the harness's catalogs and rows and <c>pg_dump --schema-only</c>, and each table's exact digest.
/// </summary>
[Heavy(215)]
public class OnlineSchemaObjectsTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private const string Schema = """
        CREATE TYPE order_state AS ENUM ('new', 'paid');
        CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text);
        INSERT INTO customers (name, email) SELECT 'c' || g, 'c' || g || '@example.com' FROM generate_series(1, 100) g;
        CREATE TABLE orders (id serial PRIMARY KEY, customer int NOT NULL, qty int NOT NULL, state order_state NOT NULL DEFAULT 'new', total int);
        INSERT INTO orders (customer, qty) SELECT 1 + g % 100, 1 + g % 900 FROM generate_series(1, 1000) g;
        CREATE INDEX orders_qty_idx ON orders (qty);
        CREATE TABLE legacy (id int PRIMARY KEY, note text);
        INSERT INTO legacy SELECT g, 'l' || g FROM generate_series(1, 50) g;
        """;

    /// <summary>A deploy's migrations, each its own transaction, as an application's migration tool runs them.</summary>
    private static readonly string[] Deploys =
    [
        "CREATE INDEX orders_customer_idx ON orders (customer)",
        "CREATE INDEX CONCURRENTLY customers_name_idx ON customers (lower(name))",
        "ALTER TABLE customers ADD CONSTRAINT customers_email_key UNIQUE (email)",
        "ALTER TABLE orders ADD CONSTRAINT orders_qty_positive CHECK (qty > 0)",
        "ALTER TABLE orders ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (customer) REFERENCES customers (id)",
        "CREATE VIEW big_orders AS SELECT id, customer, qty FROM orders WHERE qty > 500",
        "CREATE MATERIALIZED VIEW name_lengths AS SELECT length(name) AS length, count(*) AS customers FROM customers GROUP BY 1",
        "CREATE FUNCTION order_total() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.total := NEW.qty * 2; RETURN NEW; END$$",
        "CREATE TRIGGER orders_total BEFORE INSERT OR UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION order_total()",
        "CREATE TYPE priority AS ENUM ('low', 'high')",
        "ALTER TYPE order_state ADD VALUE 'shipped' AFTER 'paid'",
        "UPDATE orders SET state = 'shipped' WHERE id % 7 = 0",
        "CREATE SEQUENCE invoice_numbers START 1000",
        "SELECT nextval('invoice_numbers')",
        "COMMENT ON TABLE orders IS 'Orders placed'; COMMENT ON COLUMN customers.email IS 'login'",
        "DROP TABLE legacy",
        "DROP INDEX orders_qty_idx",
        "CREATE OR REPLACE VIEW big_orders AS SELECT id, customer, qty, state FROM orders WHERE qty > 500",
    ];

    private const string Application = "INSERT INTO orders (customer, qty) VALUES (1 + (random() * 99)::int, 1 + (random() * 899)::int)";

    [Fact]
    public async Task Should_Make_The_Targets_Schema_The_Sources_By_The_Cutover_While_An_Application_Writes()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("objects");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        // The verification while following compares the schemas too, before any pass of this carry: the deploys come after it.
        await run.WaitForVerifiedAsync();
        await using (var writer = ApplicationWriter.Start(source, Application))
        {
            foreach (var deploy in Deploys)
            {
                await PgServer.ExecuteAsync(source, deploy);
            }

            await PgServer.ExecuteAsync(source, "UPDATE orders SET state = 'paid' WHERE id % 10 = 0");
            await Eventually.True(() => Task.FromResult(writer.Writes > 50), TimeSpan.FromMinutes(1), "The application did not write.");
            await run.CutoverAsync(id);
        }

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "customers", "orders", "name_lengths");

        // The value the application wrote at once was added when the target refused its first row, the rest by the cutover.
        var log = run.Journal().Log;
        Assert.True(log.Any(l => l.Contains("Schema objects carried to the target: TYPE public.order_state value 'shipped'", StringComparison.Ordinal)), string.Join("\n", log));
        Assert.Contains(run.Journal().Log, l => l.Contains("Schema objects carried to the target", StringComparison.Ordinal) && l.Contains("INDEX public.orders_customer_idx", StringComparison.Ordinal));
        Assert.Equal(MigrationStatus.Completed, run.Journal().Status);
    }

    [Fact]
    public async Task Should_Refuse_The_Cutover_Naming_What_The_Target_Cannot_Take_Then_Switch_Once_It_Is_Run()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("objects_refused");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        // The verification while following compares the schemas too, before any pass of this carry: the deploys come after it.
        await run.WaitForVerifiedAsync();

        // An index of an extension the source gained and the target lacks: its statement fails there.
        await PgServer.ExecuteAsync(source, "CREATE EXTENSION pg_trgm; CREATE INDEX customers_name_trgm ON customers USING gin (name gin_trgm_ops); INSERT INTO customers (name) VALUES ('after');");
        var refused = await CliRunner.RunAsync(["cutover", id, "--workdir", run.WorkDir], null, OnlineRun.Patience);
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.True(refused.Output.Contains("INDEX public.customers_name_trgm", StringComparison.Ordinal), refused.ToString());
        Assert.Contains("run on the target: CREATE INDEX customers_name_trgm ON public.customers USING gin (name public.gin_trgm_ops)", refused.Output, StringComparison.Ordinal);

        // Nothing switched: the follow goes on, the source takes writes, and the target keeps its rows.
        Assert.False(run.Result.IsCompleted);
        await PgServer.ExecuteAsync(source, "INSERT INTO customers (name) VALUES ('still writable')");
        Assert.Equal(1000L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM orders"));

        // The user makes what was named on the target; the next cutover switches.
        await PgServer.ExecuteAsync(target, "CREATE EXTENSION pg_trgm; CREATE INDEX customers_name_trgm ON public.customers USING gin (name public.gin_trgm_ops);");
        await run.CutoverAsync(id);

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "customers");
    }

    [Fact]
    public async Task Should_Pass_The_Verification_While_Following_When_Objects_Were_Deployed_After_The_Copys_Snapshot()
    {
        // A table whose copy takes seconds (its CHECK's function sleeps on the target's COPY): the deploys land after
        // the copy's snapshot and before the verification while following, which then sees them on the source alone.
        var source = await servers.SourceAsync(Schema + """
            CREATE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN true; END $$;
            CREATE TABLE slow (id int PRIMARY KEY, v text NOT NULL, CHECK (slow_ok(id)));
            INSERT INTO slow SELECT g, 'v' || g FROM generate_series(1, 3000) g;
            CREATE OR REPLACE FUNCTION slow_ok(int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.002); RETURN true; END $$;
            """);
        var target = await servers.Target.CreateDatabaseAsync("objects_before_verify");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, "--jobs", "1");
        await PgServer.WaitForActivityAsync(source, "query LIKE 'COPY \"public\".\"slow\" (%'", run.Result, "the copy of slow");
        foreach (var deploy in new[]
        {
            "CREATE INDEX orders_customer_idx ON orders (customer)",
            "CREATE VIEW big_orders AS SELECT id, customer, qty FROM orders WHERE qty > 500",
            "CREATE FUNCTION order_total() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.total := NEW.qty * 2; RETURN NEW; END$$",
            "CREATE SEQUENCE invoice_numbers START 1000",
        })
        {
            await PgServer.ExecuteAsync(source, deploy);
        }

        var id = await run.WaitForFollowAsync();
        await run.WaitForVerifiedAsync();
        var log = run.Journal().Log;
        Assert.True(log.Any(l => l.Contains("Schema objects differ while following", StringComparison.Ordinal) && l.Contains("orders_customer_idx", StringComparison.Ordinal)), string.Join("\n", log));
        await PgServer.ExecuteAsync(source, "INSERT INTO orders (customer, qty) VALUES (3, 700)");
        await run.CutoverAsync(id);

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "orders");
    }

    [Fact]
    public async Task Should_Compare_Without_PgDump_At_The_Switch_When_Neither_Side_Changed_Since_The_Cutover_Was_Asked()
    {
        // Triggers the follow disables on the target and the switch enables again: the pass when the cutover is asked
        // must still find nothing left for the switch.
        var source = await servers.SourceAsync(Schema + """
            CREATE FUNCTION order_total() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.total := NEW.qty * 2; RETURN NEW; END$$;
            CREATE TRIGGER orders_total BEFORE INSERT OR UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION order_total();
            ALTER TABLE orders ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (customer) REFERENCES customers (id);
            """);
        // The source's public schema as PostgreSQL 15 makes it (owned by pg_database_owner, which pg_dump leaves out), the
        // target's owned by its login role, as a provider hands a database out (pg_dump writes it, as comments only).
        await servers.Source.ExecuteAsync(source.Database, "ALTER SCHEMA public OWNER TO pg_database_owner");
        var target = await servers.Target.CreateDatabaseAsync("objects_settled");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await run.WaitForVerifiedAsync();
        await PgServer.ExecuteAsync(source, "CREATE INDEX orders_customer_idx ON orders (customer); COMMENT ON TABLE orders IS 'Orders placed'");
        await using (var writer = ApplicationWriter.Start(source, Application))
        {
            await Eventually.True(() => Task.FromResult(writer.Writes > 20), TimeSpan.FromMinutes(1), "The application did not write.");
            await run.CutoverAsync(id);
        }

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "customers", "orders");
        var log = run.Journal().Log;
        Assert.True(log.Any(l => l.Contains("its objects are compared without pg_dump", StringComparison.Ordinal)), string.Join("\n", log));
        Assert.Equal(MigrationStatus.Completed, run.Journal().Status);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Compare_In_Full_At_The_Switch_When_The_Source_Changed_After_The_Cutover_Was_Asked()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("objects_unsettled");
        const string Comment = "SELECT obj_description('orders'::regclass, 'pg_class')";
        using var dir = new TempDir();
        var run = await CutoverDuringEndlessDeployAsync(source, target, dir.Path, "format('COMMENT ON TABLE orders IS %L', clock_timestamp()::text)", Comment);

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "orders");
        Assert.Equal(await PgServer.ScalarAsync<string>(source, Comment), await PgServer.ScalarAsync<string>(target, Comment));
        Assert.DoesNotContain(run.Journal().Log, l => l.Contains("its objects are compared without pg_dump", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_Compare_The_Columns_At_The_Switch_When_A_Default_Changed_After_The_Cutover_Was_Asked()
    {
        // The pass when the cutover is asked finds every column's attributes the source's, so the switch compares them
        // again only when a fingerprint changed: here a default set again until the end, which only the switch can carry.
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("objects_default_late");
        const string Default = "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = 'orders'::regclass AND a.attname = 'total'";
        using var dir = new TempDir();
        var run = await CutoverDuringEndlessDeployAsync(source, target, dir.Path, "format('ALTER TABLE orders ALTER COLUMN total SET DEFAULT %s', i)", Default);

        var last = await PgServer.ScalarAsync<string>(source, Default);
        Assert.NotNull(last);
        Assert.Equal(last, await PgServer.ScalarAsync<string>(target, Default));
        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "orders");
        Assert.DoesNotContain(run.Journal().Log, l => l.Contains("its objects are compared without pg_dump", StringComparison.Ordinal));
        Assert.Equal(MigrationStatus.Completed, run.Journal().Status);
    }

    /// <summary>
    /// A deploy that never stops: <paramref name="statement"/> (an SQL expression giving the statement, with the loop's
    /// <c>i</c>) runs every few milliseconds until the read-only step ends its session, so it changes the schema after the
    /// pass when the cutover is asked, and only the switch's own comparison can carry its last value. The loop runs in
    /// the server: a busy test process could not pause it past that pass. <paramref name="probe"/> reads what it changes.
    /// </summary>
    private static async Task<OnlineRun> CutoverDuringEndlessDeployAsync(PgConnectionInfo source, PgConnectionInfo target, string workDir, string statement, string probe)
    {
        var run = OnlineRun.Start(source, target, workDir);
        var id = await run.WaitForFollowAsync();
        await run.WaitForVerifiedAsync();
        await PgServer.ExecuteAsync(source, $$"""
            CREATE PROCEDURE deploy_forever() LANGUAGE plpgsql AS $$
            BEGIN
                FOR i IN 1..40000 LOOP
                    EXECUTE {{statement}};
                    COMMIT;
                    PERFORM pg_sleep(0.003);
                END LOOP;
            END$$
            """);
        await using (ApplicationWriter.Start(source, "CALL deploy_forever()"))
        {
            await Eventually.True(async () => await PgServer.ScalarAsync<string>(source, probe) is not null, TimeSpan.FromMinutes(1), "The deploys did not run.");
            var deployed = await PgServer.ScalarAsync<string>(source, probe);
            await Eventually.True(async () => await PgServer.ScalarAsync<string>(source, probe) != deployed, TimeSpan.FromMinutes(1), "The deploys did not go on.");
            await run.CutoverAsync(id);
        }

        return run;
    }

    [Fact]
    public async Task Should_Carry_A_Trigger_The_Source_Disabled_While_Following()
    {
        // The follow disables the target's triggers itself: a trigger the application disabled on the source must not be
        // taken for one of those, nor re-enabled at the switch.
        var source = await servers.SourceAsync(Schema + """
            CREATE FUNCTION order_total() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.total := NEW.qty * 2; RETURN NEW; END$$;
            CREATE TRIGGER orders_total BEFORE INSERT OR UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION order_total();
            """);
        var target = await servers.Target.CreateDatabaseAsync("objects_trigger_off");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await run.WaitForVerifiedAsync();
        await PgServer.ExecuteAsync(source, "ALTER TABLE orders DISABLE TRIGGER orders_total");
        await run.CutoverAsync(id);

        var log = run.Journal().Log;
        Assert.False(log.Any(l => l.Contains("its objects are compared without pg_dump", StringComparison.Ordinal)), string.Join("\n", log));
        var mode = await PgServer.ScalarAsync<string>(target, "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'orders_total'");
        Assert.True(mode == "D", mode + "\n" + string.Join("\n", log));
        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "orders");
    }
}
