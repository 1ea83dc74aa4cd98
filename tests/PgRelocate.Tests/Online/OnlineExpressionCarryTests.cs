using PgRelocate.Clusters;
using PgRelocate.Tools;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// A generated column's new expression (<c>ALTER COLUMN … SET EXPRESSION</c>, PostgreSQL 17 on) carried while
/// following, from a PostgreSQL 17 source into a PostgreSQL 18 target, while an application writes: the target
/// computes its rows again as the source did. Compared outside the tool (catalogs, pg_dump --schema-only, exact rows).
/// </summary>
[Heavy(120)]
public sealed class OnlineExpressionCarryTests(OnlineExpressionCarryTests.Servers servers) : IClassFixture<OnlineExpressionCarryTests.Servers>
{
    private const string Schema = """
        CREATE TABLE items (id int PRIMARY KEY, price numeric(10,2) NOT NULL, qty int NOT NULL,
                            total numeric GENERATED ALWAYS AS (price * qty) STORED);
        INSERT INTO items (id, price, qty) SELECT g, g / 10.0, g % 7 FROM generate_series(1, 500) g;
        CREATE TABLE notes (id int PRIMARY KEY, body text);
        INSERT INTO notes SELECT g, 'n' || g FROM generate_series(1, 200) g;
        """;

    private const string Expression = "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = 'items'::regclass AND a.attname = 'total'";

    public sealed class Servers : IAsyncLifetime
    {
        public LogicalPg17 Source { get; } = new();

        public Pg18Server Target { get; } = new();

        public async Task InitializeAsync() => await Task.WhenAll(Source.InitializeAsync(), Target.InitializeAsync());

        public async Task DisposeAsync() => await Task.WhenAll(Source.DisposeAsync(), Target.DisposeAsync());
    }

    public sealed class LogicalPg17 : Pg17Server
    {
        protected override LocalClusterOptions Options => base.Options with
        {
            Settings = new Dictionary<string, string> { ["wal_level"] = "logical", ["max_replication_slots"] = "10", ["max_wal_senders"] = "10" },
        };
    }

    [SkippableFact]
    public async Task Should_Carry_A_Generated_Columns_New_Expression_While_An_Application_Writes()
    {
        // The copy and the cutover's comparison of objects dump the source: a PostgreSQL 17 source needs a pg_dump 17 or newer.
        Skip.IfNot(new PgBinaries(null).All("pg_dump").Any(t => t.Major >= 17), "no pg_dump 17 or newer is installed, and a PostgreSQL 17 source needs one");
        var source = await servers.Source.CreateDatabaseAsync("expression");
        await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE \"{source.User}\" REPLICATION");
        await PgServer.ExecuteAsync(source, Schema);
        var target = await servers.Target.CreateDatabaseAsync("expression");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        var notes = await PgServer.ScalarAsync<long>(target, "SELECT pg_relation_filenode('notes')::bigint");

        await using var writer = ApplicationWriter.Start(source, "INSERT INTO items (id, price, qty) SELECT max(id) + 1, 2.5, 3 FROM items");
        await PgServer.ExecuteAsync(source, "ALTER TABLE items ALTER COLUMN total SET EXPRESSION AS (price * qty * 2)");
        await PgServer.ExecuteAsync(source, "UPDATE items SET qty = qty + 1 WHERE id <= 10; UPDATE notes SET body = 'changed' WHERE id <= 3;");
        var arrived = await Eventually.Holds(
            async () => run.Result.IsCompleted
                        || (await PgServer.ScalarAsync<string>(target, Expression) == await PgServer.ScalarAsync<string>(source, Expression)
                            && await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM items WHERE id <= 10 AND total <> price * qty * 2") == 0
                            && await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM notes WHERE body = 'changed'") == 3),
            TimeSpan.FromMinutes(2),
            TimeSpan.FromMilliseconds(500));
        Assert.True(arrived && !run.Result.IsCompleted, "The new expression did not reach the target: " + (run.Result.IsCompleted ? (await run.Result).ToString() : string.Join("\n", run.Journal().Log.TakeLast(30))));

        await run.CutoverAsync(id);
        await writer.StopAsync();

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "items", "notes");
        Assert.Equal(await PgServer.ScalarAsync<string>(source, Expression), await PgServer.ScalarAsync<string>(target, Expression));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM items WHERE total IS DISTINCT FROM price * qty * 2"));
        // The table the change did not touch keeps its file: nothing copied again.
        Assert.Equal(notes, await PgServer.ScalarAsync<long>(target, "SELECT pg_relation_filenode('notes')::bigint"));
        Assert.Equal(MigrationStatus.Completed, MigrationJournal.All(dir.Path).Single().Status);
    }
}
