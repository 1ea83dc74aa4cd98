using System.Text.Json;
using Npgsql;
using PgRelocate.Clusters;
using PgRelocate.Connections;
using PgRelocate.Progress;
using PgRelocate.Targets;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Catalog;

/// <summary>A cluster with a managed plan's lock table: max_locks_per_transaction 64, 100 connections.</summary>
public sealed class SmallLockTableServer : PgServer
{
    protected override LocalClusterOptions Options => base.Options with
    {
        Settings = new Dictionary<string, string> { ["max_locks_per_transaction"] = "64", ["max_connections"] = "100" },
    };
}

/// <summary>
/// Replacing targets of thousands of objects, more than one transaction can drop under the default lock table:
/// the emptying commits in batches, `check` says so, and an emptying that stops halfway says how far it got and
/// which command finishes it.
/// </summary>
[Heavy(135)]
[Trait(Tier.Name, Tier.Long)]
public class LargeTargetTests(SmallLockTableServer server) : IClassFixture<SmallLockTableServer>
{
    [Fact]
    public async Task Should_Replace_A_Target_Of_5000_Objects_Under_The_Default_Lock_Table_And_Warn_In_Check()
    {
        var (source, archive, dir) = await SourceArchiveAsync();
        using var _ = dir;
        var target = await server.CreateDatabaseAsync("big");
        await BuildAsync(target, tables: 1500, partitioned: 60, views: 700);
        var objects = await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('app', 'public') AND c.relkind IN ('r', 'p', 'v', 'S')")
            + await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'app'");
        Assert.True(objects >= 5000, $"{objects} objects");

        var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--json");
        using (var json = JsonDocument.Parse(check.Stdout))
        {
            var row = json.RootElement.GetProperty("checks").EnumerateArray().First(c => c.GetProperty("check").GetString() == TargetPreparation.LockTableFinding);
            Assert.Equal("warn", row.GetProperty("status").GetString());
            Assert.Contains("max_locks_per_transaction 64", row.GetProperty("found").GetString(), StringComparison.Ordinal);
            Assert.Contains("partly emptied", row.GetProperty("found").GetString(), StringComparison.Ordinal);
        }

        var restore = await CliRunner.RunAsync("restore", archive, "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Contains("transactions that fit its lock table", restore.Stderr, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Fact]
    public async Task Should_Say_How_Much_Is_Dropped_When_A_Lock_Stops_The_Emptying_Halfway_And_Finish_With_The_Same_Command()
    {
        var (source, archive, dir) = await SourceArchiveAsync();
        using var _ = dir;
        var target = await server.CreateDatabaseAsync("half");
        await BuildAsync(target, tables: 600, partitioned: 20, views: 100);
        // The last table dropped, held by an application's open transaction.
        await PgServer.ExecuteAsync(target, "CREATE SCHEMA zz; CREATE TABLE zz.busy (id int); INSERT INTO zz.busy VALUES (1)");
        await using var app = new NpgsqlConnection(target.WithApplicationName("late-report").ToNpgsqlConnectionString());
        await app.OpenAsync();
        var tx = await app.BeginTransactionAsync();
        await Db.ExecuteAsync(app, "SELECT * FROM zz.busy", CancellationToken.None);

        var stopped = await CliRunner.RunAsync("restore", archive, "--target", CliRunner.Url(target), "--confirm", target.Database, "--lock-timeout", "3");

        Assert.True(stopped.ExitCode == 1, stopped.ToString());
        Assert.Contains("late-report", stopped.Stderr, StringComparison.Ordinal);
        Assert.Matches(@"The target is partly emptied: [1-9][0-9]* of [0-9]+ objects dropped; running the same command again with --confirm " + target.Database + " empties the rest", stopped.Stderr);
        Assert.DoesNotContain("Nothing was changed", stopped.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname = 't1'"));
        Assert.Equal(1, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM zz.busy"));
        await tx.RollbackAsync();
        await tx.DisposeAsync();

        var finished = await CliRunner.RunAsync("restore", archive, "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(finished.ExitCode == 0, finished.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Fact]
    public async Task Should_Name_The_Resume_When_A_Migrations_Emptying_Stops_Halfway_And_Finish_When_Resumed()
    {
        var (source, _, archiveDir) = await SourceArchiveAsync();
        using var __ = archiveDir;
        var target = await server.CreateDatabaseAsync("resume");
        await BuildAsync(target, tables: 300, partitioned: 10, views: 50);
        await PgServer.ExecuteAsync(target, "CREATE SCHEMA zz; CREATE TABLE zz.busy (id int)");
        using var dir = new TempDir();
        await using var app = new NpgsqlConnection(target.WithApplicationName("late-report").ToNpgsqlConnectionString());
        await app.OpenAsync();
        var tx = await app.BeginTransactionAsync();
        await Db.ExecuteAsync(app, "SELECT * FROM zz.busy", CancellationToken.None);

        var stopped = await CliRunner.RunAsync(["migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path, "--lock-timeout", "3"], null);
        await tx.RollbackAsync();
        await tx.DisposeAsync();
        var id = PgRelocate.Migration.MigrationJournal.All(dir.Path).Single().Id;
        var resumed = await CliRunner.RunAsync(["migrate", "--resume", id, "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", dir.Path], null);

        Assert.True(stopped.ExitCode == 1, stopped.ToString());
        Assert.Matches($@"The target is partly emptied: [1-9][0-9]* of [0-9]+ objects dropped; 'pgrelocate migrate --resume {id} --source \S+ --target \S+ --workdir \S+' empties the rest", stopped.Output);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Fact]
    public async Task Should_Say_Where_The_Target_Stands_When_The_Emptying_Is_Canceled_And_Empty_The_Rest_When_Run_Again()
    {
        var target = await server.CreateDatabaseAsync("cancel");
        await BuildAsync(target, tables: 400, partitioned: 10, views: 50);
        using var cancel = new CancellationTokenSource();
        var reporter = new CancelingReporter("batch 2 of", cancel);
        var prepared = await TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database, FinishCommand = "pgrelocate migrate --resume m1" }, CancellationToken.None);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => prepared.EmptyAsync(reporter, cancel.Token));

        Assert.Contains(reporter.Lines, l => l.Contains("The target is partly emptied:", StringComparison.Ordinal) && l.Contains("'pgrelocate migrate --resume m1' empties the rest", StringComparison.Ordinal));
        var left = await TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database }, CancellationToken.None);
        Assert.InRange(left.Objects.Count, 1, prepared.Objects.Count - 1);
        await left.EmptyAsync(NullReporter.Instance, CancellationToken.None);
        var again = await TargetPreparation.CheckAsync(target, new TargetRequirements(), CancellationToken.None);
        Assert.Empty(again.Objects);
    }

    [Fact]
    public async Task Should_Say_The_Target_Is_Emptied_Not_Partly_When_Stopped_After_Its_Last_Batch()
    {
        var target = await server.CreateDatabaseAsync("last");
        await PgServer.ExecuteAsync(target, "CREATE TABLE a (id int); CREATE TABLE b (id int); CREATE VIEW v AS SELECT id FROM a");
        using var cancel = new CancellationTokenSource();
        var reporter = new CancelingReporter("batch 1 of 1 committed", cancel);
        var changes = new TargetChanges();
        var prepared = await TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database, Changes = changes, FinishCommand = "pgrelocate migrate --resume m2" }, CancellationToken.None);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => prepared.EmptyAsync(reporter, cancel.Token));

        Assert.Contains(reporter.Lines, l => l.Contains("The target is emptied (3 objects dropped) and nothing was written into it yet; 'pgrelocate migrate --resume m2' fills it.", StringComparison.Ordinal));
        Assert.DoesNotContain(reporter.Lines, l => l.Contains("partly", StringComparison.Ordinal));
        Assert.Equal(TargetCondition.Emptied, changes.Condition);
        Assert.Equal(0, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname IN ('a', 'b', 'v') AND relnamespace = 'public'::regnamespace"));
    }

    [Fact]
    public async Task Should_Refuse_A_Later_Batch_That_Would_Drop_Another_Roles_View_Made_After_The_First()
    {
        var target = await server.CreateDatabaseAsync("later");
        await BuildAsync(target, tables: 400, partitioned: 10, views: 50);
        var role = "late_" + Guid.NewGuid().ToString("N")[..8];
        var prepared = await TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database }, CancellationToken.None);
        var reporter = new CallingReporter("batch 1 of", () => server.ExecuteAsync(target.Database, $"""
            CREATE ROLE {role};
            CREATE SCHEMA {role} AUTHORIZATION {role};
            CREATE VIEW {role}.late_view AS SELECT id FROM app.t99;
            ALTER VIEW {role}.late_view OWNER TO {role};
            """).GetAwaiter().GetResult());

        var e = await Assert.ThrowsAsync<global::PgRelocate.Errors.PgRelocateException>(() => prepared.EmptyAsync(reporter, CancellationToken.None));

        Assert.Contains($"view {role}.late_view (owner {role})", e.Message, StringComparison.Ordinal);
        Assert.Matches("The target is partly emptied: [1-9][0-9]* of [0-9]+ objects dropped; running the same command again", e.Message);
        Assert.Equal(1, await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{role}' AND c.relname = 'late_view'"));
        Assert.Equal(0, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM app.t99"));
    }

    /// <summary>A small source (a partitioned table, a view, a function, a sequence) and its archive.</summary>
    private async Task<(PgConnectionInfo Source, string Archive, TempDir Dir)> SourceArchiveAsync()
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, """
            CREATE SCHEMA app;
            CREATE TABLE app.t1 (id serial PRIMARY KEY, v text);
            INSERT INTO app.t1 (v) SELECT 'row ' || g FROM generate_series(1, 200) g;
            CREATE TABLE app.events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            INSERT INTO app.events SELECT g, '2024-03-01' FROM generate_series(1, 50) g;
            CREATE VIEW app.v1 AS SELECT id, v FROM app.t1;
            CREATE FUNCTION app.f1(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1';
            """);
        var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        return (source, dir.File("a.dump"), dir);
    }

    /// <summary>
    /// Fills a database as its login role: tables with a serial key, an index and every tenth a foreign key;
    /// partitioned tables of ten partitions with a key; views and functions on the tables. In transactions of a
    /// hundred tables each, which the lock table holds.
    /// </summary>
    private static async Task BuildAsync(PgConnectionInfo db, int tables, int partitioned, int views)
    {
        await PgServer.ExecuteAsync(db, "CREATE SCHEMA app; CREATE TYPE app.mood AS ENUM ('ok', 'sad'); CREATE DOMAIN app.positive AS int CHECK (VALUE > 0)");
        for (var from = 1; from <= tables; from += 100)
        {
            await PgServer.ExecuteAsync(db, $$"""
                DO $$ BEGIN
                FOR i IN {{from}}..{{Math.Min(from + 99, tables)}} LOOP
                    EXECUTE format('CREATE TABLE app.t%s (id serial PRIMARY KEY, v text, m app.mood, p app.positive%s)', i,
                                   CASE WHEN i % 10 = 0 THEN format(', up int REFERENCES app.t%s', i - 1) ELSE '' END);
                    EXECUTE format('CREATE INDEX ON app.t%s (v)', i);
                END LOOP; END $$
                """);
        }

        for (var from = 1; from <= partitioned; from += 10)
        {
            await PgServer.ExecuteAsync(db, $$"""
                DO $$ BEGIN
                FOR i IN {{from}}..{{Math.Min(from + 9, partitioned)}} LOOP
                    EXECUTE format('CREATE TABLE public.p%s (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)', i);
                    FOR j IN 1..10 LOOP
                        EXECUTE format('CREATE TABLE public.p%s_%s PARTITION OF public.p%s FOR VALUES FROM (%L) TO (%L)', i, j, i,
                                       make_date(2000 + j, 1, 1), make_date(2001 + j, 1, 1));
                    END LOOP;
                END LOOP; END $$
                """);
        }

        for (var from = 1; from <= views; from += 200)
        {
            await PgServer.ExecuteAsync(db, $$"""
                DO $$ BEGIN
                FOR i IN {{from}}..{{Math.Min(from + 199, views)}} LOOP
                    EXECUTE format('CREATE VIEW app.v%s AS SELECT id, v FROM app.t%s', i, i);
                    EXECUTE format('CREATE FUNCTION app.f%s(x app.t%s) RETURNS text LANGUAGE sql AS %L', i, i, 'SELECT x.v');
                END LOOP; END $$
                """);
        }
    }

    /// <summary>Records every line, and runs <paramref name="then"/> the first time a line contains <paramref name="when"/>.</summary>
    private sealed class CallingReporter(string when, Action then) : IReporter
    {
        private int _called;

        public void Log(LogLevel level, string message)
        {
            if (message.Contains(when, StringComparison.Ordinal) && Interlocked.Exchange(ref _called, 1) == 0)
            {
                then();
            }
        }

        public void Progress(ProgressUpdate update)
        {
        }
    }

    /// <summary>Records every line, and cancels when a line contains <paramref name="when"/>.</summary>
    private sealed class CancelingReporter(string when, CancellationTokenSource cancel) : IReporter
    {
        private readonly RecordingReporter _lines = new();

        public IReadOnlyList<string> Lines => _lines.Lines;

        public void Log(LogLevel level, string message)
        {
            _lines.Log(level, message);
            if (message.Contains(when, StringComparison.Ordinal))
            {
                cancel.Cancel();
            }
        }

        public void Progress(ProgressUpdate update)
        {
        }
    }
}
