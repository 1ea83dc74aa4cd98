using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// Tables renamed or moved to another schema on the source while an online migration follows, while an application
/// writes: the target's table is renamed too, its rows kept (not copied again: its file on the target is the same),
/// the changes after the rename applied to it. Compared outside the tool: the harness's catalogs, rows and pg_dump
/// --schema-only, and each table's exact row count and digest by plain SQL.
/// </summary>
[Heavy(300)]
public class OnlineTableCarryTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private const string Schema = """
        CREATE SCHEMA archive;
        CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
        INSERT INTO customers (name) SELECT 'c' || g FROM generate_series(1, 100) g;
        CREATE TABLE orders (id serial PRIMARY KEY, customer int NOT NULL REFERENCES customers, qty int NOT NULL);
        INSERT INTO orders (customer, qty) SELECT 1 + g % 100, g FROM generate_series(1, 1000) g;
        CREATE TABLE events (id bigserial, at date NOT NULL, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        INSERT INTO events (at, what) SELECT DATE '2024-01-01' + (g % 700), 'e' || g FROM generate_series(1, 2000) g;
        CREATE TABLE old_logs (id int PRIMARY KEY, v text);
        INSERT INTO old_logs SELECT g, 'v' || g FROM generate_series(1, 500) g;
        """;

    /// <summary>A deploy's renames, each its own transaction, with writes after them (or none: the table renamed is then renamed by the watch).</summary>
    private static readonly string[] Renames =
    [
        "ALTER TABLE orders RENAME TO purchases",
        "INSERT INTO purchases (customer, qty) VALUES (1, 1); UPDATE purchases SET qty = qty + 1 WHERE id % 10 = 0",
        // A partition the application writes through its parent all along.
        "ALTER TABLE events_2024 RENAME TO events_y2024",
        "ALTER TABLE old_logs SET SCHEMA archive",
        "UPDATE archive.old_logs SET v = 'moved' WHERE id <= 10",
        // Renamed and written in one transaction, then renamed again.
        "BEGIN; ALTER TABLE purchases RENAME TO sales; INSERT INTO sales (customer, qty) VALUES (2, 2); COMMIT;",
        "ALTER TABLE sales RENAME TO sales_2",
        "DELETE FROM sales_2 WHERE id % 17 = 0",
        // Renamed with no write after it.
        "ALTER TABLE customers RENAME TO clients",
    ];

    /// <summary>Each table's name before the renames and after.</summary>
    private static readonly (string Before, string After)[] Renamed =
    [
        ("orders", "sales_2"), ("events_2024", "events_y2024"), ("old_logs", "archive.old_logs"), ("customers", "clients"),
    ];

    [Fact]
    public async Task Should_Rename_The_Target_Table_While_An_Application_Writes()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("renamed");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        var files = new Dictionary<string, long>();
        foreach (var (before, _) in Renamed)
        {
            files[before] = await PgServer.ScalarAsync<long>(target, $"SELECT pg_relation_filenode('{before}')::bigint");
        }

        await using var writer = ApplicationWriter.Start(source, "INSERT INTO events (at, what) VALUES (DATE '2024-05-05', 'app')");
        foreach (var deploy in Renames)
        {
            await PgServer.ExecuteAsync(source, deploy);
        }

        await PgServer.ExecuteAsync(source, "UPDATE clients SET name = name || '!' WHERE id <= 5");
        var arrived = await Eventually.Holds(
            async () =>
            {
                foreach (var (_, after) in Renamed.Where(r => r.Before != "events_2024"))
                {
                    if (await PgServer.ScalarAsync<string>(target, $"SELECT to_regclass('{after}')::text") is null
                        || await OnlineSchemaCarryTests.DigestAsync(source, after) != await OnlineSchemaCarryTests.DigestAsync(target, after))
                    {
                        return false;
                    }
                }

                return true;
            },
            TimeSpan.FromMinutes(2),
            TimeSpan.FromMilliseconds(500));
        Assert.True(arrived, "The renamed tables did not reach the target: " + (run.Result.IsCompleted ? (await run.Result).ToString() : string.Join("\n", run.Journal().Log.TakeLast(30))));

        // Renamed in place, not made again nor emptied and loaded (either gives the table a new file).
        foreach (var (before, after) in Renamed)
        {
            Assert.Equal(files[before], await PgServer.ScalarAsync<long>(target, $"SELECT pg_relation_filenode('{after}')::bigint"));
            Assert.Null(await PgServer.ScalarAsync<string>(target, $"SELECT to_regclass('public.{before}')::text"));
        }

        await run.CutoverAsync(id);
        await writer.StopAsync();

        await DatabaseSnapshot.AssertSameAsync(source, target);
        foreach (var table in new[] { "clients", "sales_2", "events_y2024", "events_2025", "archive.old_logs" })
        {
            Assert.Equal(await OnlineSchemaCarryTests.DigestAsync(source, table), await OnlineSchemaCarryTests.DigestAsync(target, table));
        }

        Assert.Equal(MigrationStatus.Completed, MigrationJournal.All(dir.Path).Single().Status);
    }
}
