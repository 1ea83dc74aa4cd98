using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// Column changes on the source while an online migration follows, as a Rails or Django deploy makes them, carried
/// to the target without copying the database again, while an application writes. Compared outside the tool: the
/// harness's catalogs, rows and pg_dump --schema-only, and each table's exact row count and digest by plain SQL.
/// </summary>
[Heavy(110)]
public class OnlineColumnCarryTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private const string Schema = """
        CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, legacy text);
        INSERT INTO customers (name, legacy) SELECT 'c' || g, 'old' FROM generate_series(1, 300) g;
        CREATE TABLE orders (id serial PRIMARY KEY, customer int NOT NULL REFERENCES customers, qty int NOT NULL, note varchar(20));
        INSERT INTO orders (customer, qty, note) SELECT 1 + g % 300, g, 'n' || g FROM generate_series(1, 1000) g;
        CREATE TABLE events (id bigserial, at date NOT NULL, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        INSERT INTO events (at, what) SELECT DATE '2024-01-01' + (g % 700), 'e' || g FROM generate_series(1, 2000) g;
        """;

    /// <summary>A deploy's migrations, each its own transaction, with the application's writes of the new shape after each.</summary>
    private static readonly string[] Deploys =
    [
        "ALTER TABLE customers ADD COLUMN email text",
        "UPDATE customers SET email = name || '@example.com' WHERE id <= 50",
        "ALTER TABLE customers ADD COLUMN tier int NOT NULL DEFAULT 3",
        "INSERT INTO customers (name, tier) VALUES ('gold', 1)",
        "ALTER TABLE customers ADD COLUMN joined timestamptz DEFAULT now()",
        "INSERT INTO customers (name) VALUES ('late')",
        "ALTER TABLE orders ADD COLUMN token text DEFAULT md5(random()::text)",
        "INSERT INTO orders (customer, qty) VALUES (3, 3)",
        "ALTER TABLE customers DROP COLUMN legacy",
        "UPDATE customers SET name = name || '!' WHERE id % 7 = 0",
        "ALTER TABLE orders ADD COLUMN shipped boolean NOT NULL DEFAULT false, ADD COLUMN weight numeric(8,2)",
        "INSERT INTO orders (customer, qty, note, shipped, weight) VALUES (2, 5, 'shipped', true, 1.25)",
        "ALTER TABLE events ADD COLUMN channel text DEFAULT 'web'",
        "INSERT INTO events (at, what, channel) SELECT DATE '2025-03-01' + g, 'new', 'app' FROM generate_series(1, 30) g",
        "UPDATE events SET what = 'touched' WHERE id % 50 = 0",
        // A rename in the middle of the columns (the source's column numbers tell it from a drop and an add) and one at the end.
        "ALTER TABLE customers RENAME COLUMN name TO full_name",
        "UPDATE customers SET full_name = full_name || '?' WHERE id % 11 = 0",
        "ALTER TABLE orders RENAME COLUMN weight TO mass",
        "INSERT INTO orders (customer, qty, mass) VALUES (4, 4, 2.5)",
        // Widening type changes, made in place; a rewriting one with USING, copied again at a marker.
        "ALTER TABLE orders ALTER COLUMN qty TYPE bigint",
        "ALTER TABLE orders ALTER COLUMN note TYPE text",
        "INSERT INTO orders (customer, qty, note) VALUES (5, 5000000000, repeat('x', 40))",
        "ALTER TABLE events ALTER COLUMN what TYPE varchar(40) USING upper(what)",
        "INSERT INTO events (at, what) VALUES (DATE '2025-04-04', 'typed')",
        // Defaults and NOT NULL, which the stream's description does not show.
        "ALTER TABLE customers ALTER COLUMN tier SET DEFAULT 5",
        "ALTER TABLE customers ALTER COLUMN joined DROP DEFAULT",
        "ALTER TABLE customers ALTER COLUMN tier DROP NOT NULL",
        "INSERT INTO customers (full_name) VALUES ('defaulted')",
        "UPDATE orders SET note = '' WHERE note IS NULL; ALTER TABLE orders ALTER COLUMN note SET NOT NULL, ALTER COLUMN shipped SET DEFAULT true",
        // A serial column added (its sequence made on the target, the rows copied again) and a generated one (the target computes it).
        "ALTER TABLE orders ADD COLUMN seq serial",
        "INSERT INTO orders (customer, qty, note) VALUES (6, 6, 'after serial')",
        "ALTER TABLE orders ADD COLUMN total bigint GENERATED ALWAYS AS (qty * 2) STORED",
        "INSERT INTO orders (customer, qty, note, shipped) VALUES (7, 7, 'generated', true)",
        "INSERT INTO customers (full_name) VALUES ('last of the deploys')",
    ];

    private static readonly string[] Tables = ["customers", "orders", "events_2024", "events_2025"];

    [Fact]
    public async Task Should_Carry_Column_Changes_While_An_Application_Writes()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("columns");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await using var writer = ApplicationWriter.Start(source, "INSERT INTO events (at, what) VALUES (DATE '2024-05-05', 'app')");
        foreach (var deploy in Deploys)
        {
            await PgServer.ExecuteAsync(source, deploy);
            if (!deploy.StartsWith("ALTER", StringComparison.Ordinal))
            {
                // Deploys minutes apart, as in production: each reaches the target before the next.
                await run.WaitWhileFollowingAsync(async () => await ColumnsAsync(source) == await ColumnsAsync(target), TimeSpan.FromMinutes(1), $"the target took the columns of '{deploy}'", source, target);
            }
        }

        await PgServer.ExecuteAsync(source, "INSERT INTO customers (full_name) VALUES ('last')");
        await WaitForColumnsAsync(run, source, target);
        await run.CutoverAsync(id);
        await writer.StopAsync();

        // The serial's sequence goes on from the source's value after the switch.
        Assert.Equal(await PgServer.ScalarAsync<long>(source, "SELECT last_value FROM orders_seq_seq"), await PgServer.ScalarAsync<long>(target, "SELECT last_value FROM orders_seq_seq"));

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, Tables);

        Assert.Equal(MigrationStatus.Completed, MigrationJournal.All(dir.Path).Single().Status);
    }

    [Fact]
    public async Task Should_Resume_After_A_Kill_While_Adding_A_Column_On_The_Target()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("columns_killed");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:follow:columns-changed" });
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "ALTER TABLE orders ADD COLUMN token text DEFAULT md5(random()::text); INSERT INTO orders (customer, qty) VALUES (3, 3);");

        Assert.Equal(137, (await run.Result).ExitCode);
        // The column and the row were one target transaction with the position: none of it is there.
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'token'"));
        await PgServer.ExecuteAsync(source, "ALTER TABLE events ADD COLUMN channel text DEFAULT 'web'; INSERT INTO events (at, what) VALUES (DATE '2025-02-02', 'after');");

        var resumed = OnlineRun.Resume(source, target, dir.Path, id);
        await resumed.WaitForFollowAsync();
        await WaitForColumnsAsync(resumed, source, target, ["token", "channel"]);
        await resumed.CutoverAsync(id);

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, Tables);
    }

    [Fact]
    public async Task Should_Stop_On_A_Volatile_Default_Of_A_Referenced_Table_Naming_What_To_Do()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("columns_referenced");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "ALTER TABLE customers ADD COLUMN token text DEFAULT md5(random()::text); INSERT INTO customers (name) VALUES ('tokened');");
        var result = await run.Result.WaitAsync(TimeSpan.FromMinutes(3));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("cannot carry table \"public\".\"customers\"", result.Output, StringComparison.Ordinal);
        Assert.Contains("other tables' foreign keys reference it", result.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attname = 'token'"));
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Resume_After_A_Kill_While_Changing_A_Type_With_Using()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("columns_retyped_killed");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:follow:columns-changed" });
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "ALTER TABLE events ALTER COLUMN what TYPE varchar(40) USING upper(what); INSERT INTO events (at, what) VALUES (DATE '2025-02-02', 'typed');");

        Assert.Equal(137, (await run.Result).ExitCode);
        // The type and the row were one target transaction with the position; the copy again is noted before it.
        Assert.Equal("text", await PgServer.ScalarAsync<string>(target, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname = 'what'"));
        await PgServer.ExecuteAsync(source, "ALTER TABLE customers RENAME COLUMN legacy TO former; UPDATE customers SET former = 'x' WHERE id = 1;");

        var resumed = OnlineRun.Resume(source, target, dir.Path, id);
        await resumed.WaitForFollowAsync();
        await WaitForColumnsAsync(resumed, source, target, ["former"]);
        await resumed.WaitWhileFollowingAsync(async () => await DatabaseSnapshot.RowsDigestAsync(source, "events_2024") == await DatabaseSnapshot.RowsDigestAsync(target, "events_2024"), TimeSpan.FromMinutes(1), "events_2024 was copied again", source, target);
        await resumed.CutoverAsync(id);

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, Tables);
    }

    [Fact]
    public async Task Should_Stop_Naming_The_Sql_When_The_Target_Refuses_A_Type_Change()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("columns_refused");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, "ALTER TABLE orders ALTER COLUMN note TYPE int USING length(note); UPDATE orders SET note = 0 WHERE id = 1;");
        var result = await run.Result.WaitAsync(TimeSpan.FromMinutes(3));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("cannot carry table \"public\".\"orders\"", result.Output, StringComparison.Ordinal);
        Assert.Contains("run on the target ALTER TABLE \"public\".\"orders\" ALTER COLUMN \"note\" TYPE integer USING \"note\"::integer", result.Output, StringComparison.Ordinal);
        Assert.Equal("character varying(20)", await PgServer.ScalarAsync<string>(target, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'note'"));
        Assert.Equal(1000L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM orders"));
    }

    /// <summary>The column lists of the deploys' tables, by plain SQL on one side.</summary>
    private static Task<string?> ColumnsAsync(PgConnectionInfo db) =>
        PgServer.ScalarAsync<string>(db, "SELECT string_agg(c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY c.relname, a.attnum) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname IN ('customers', 'orders', 'events_2025') AND a.attnum > 0 AND NOT a.attisdropped");

    /// <summary>
    /// Waits until the target has the source's columns and every copy again is applied: the digests agree on the tables
    /// the application does not write all along (events_2024 it does: compared after the cutover).
    /// </summary>
    private static async Task WaitForColumnsAsync(OnlineRun run, PgConnectionInfo source, PgConnectionInfo target, string[]? columns = null)
    {
        var arrived = await Eventually.Holds(
            async () =>
            {
                foreach (var table in Tables.Where(t => t != "events_2024"))
                {
                    if (await DatabaseSnapshot.RowsDigestAsync(source, table) != await DatabaseSnapshot.RowsDigestAsync(target, table))
                    {
                        return false;
                    }
                }

                return columns is null || await PgServer.ScalarAsync<long>(target, $"SELECT count(DISTINCT attname) FROM pg_attribute WHERE attname IN ({string.Join(", ", columns.Select(c => $"'{c}'"))})") == columns.Length;
            },
            TimeSpan.FromMinutes(2),
            TimeSpan.FromMilliseconds(500));
        Assert.True(arrived, "The column changes did not reach the target: " + (run.Result.IsCompleted ? (await run.Result).ToString() : "") + string.Join("\n", run.Journal().Log.TakeLast(40)));
    }
}
