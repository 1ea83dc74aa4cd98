using System.Diagnostics;
using System.Text.RegularExpressions;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>A source whose GIN index builds take seconds (300,000 rows of jsonb and tsvector), made once for the class.</summary>
public sealed class LongBuildServers : PgServerPair
{
    private Task<PgConnectionInfo>? _source;

    public Task<PgConnectionInfo> SourceAsync() => _source ??= CreateAsync();

    private async Task<PgConnectionInfo> CreateAsync()
    {
        var db = await Source.CreateDatabaseAsync("long_builds");
        await PgServer.ExecuteAsync(db, """
            CREATE TABLE events (id bigint PRIMARY KEY, payload jsonb, doc tsvector);
            INSERT INTO events
            SELECT g, jsonb_build_object('g', g, 'k' || (g % 1000), md5(g::text), 'tags', jsonb_build_array(g % 7, g % 11, md5((g * 3)::text))),
                   to_tsvector('simple', md5(g::text) || ' ' || md5((g * 7)::text) || ' word' || (g % 5000))
            FROM generate_series(1, 300000) g;
            CREATE INDEX events_payload_idx ON events USING gin (payload);
            CREATE INDEX events_doc_idx ON events USING gin (doc);
            CREATE TABLE kinds (id int PRIMARY KEY, name text UNIQUE);
            INSERT INTO kinds SELECT g, 'kind ' || g FROM generate_series(1, 20) g;
            ANALYZE;
            """);
        return db;
    }
}

/// <summary>
/// `migrate --direct` killed with SIGKILL while the target builds a large GIN index, then `--resume --not-consistent`.
/// The server goes on with a dead client's statement until it next talks to it: the copy's target sessions ask it
/// to check (client_connection_check_interval, PostgreSQL 14 on), so the killed build ends by itself, uncommitted. A
/// leftover the server does not notice (PostgreSQL 12 and 13) is stood for by a session named as the killed run's,
/// building the same index: the resume ends it before it writes, where it collided with it ("duplicate key value
/// violates unique constraint pg_class_relname_nsp_index"); so does a new migration run with --confirm over that
/// target, whose emptying waited for its locks. An index the target holds with the same definition, committed
/// without the copy's record, is kept. The target ends equal to the source, compared without our code.
/// </summary>
[Heavy(255)]
[Trait(Tier.Name, Tier.Long)]
public class CopyResumeLeftoverTests(LongBuildServers servers) : IClassFixture<LongBuildServers>
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    /// <summary>A GIN build of the copy's target sessions (named after their migration), running.</summary>
    private const string GinBuild = "datname = current_database() AND application_name LIKE 'pgrelocate migration % copy' AND state = 'active' AND query LIKE 'CREATE INDEX % USING gin %'";

    /// <summary>
    /// What the target holds when the next run starts: the killed run's build still going on ("building"), its index
    /// committed without its record ("built"), or the former and a new migration run with --confirm ("new run").
    /// </summary>
    public static TheoryData<string> Leftovers() => ["building", "built", "new run"];

    [Theory]
    [MemberData(nameof(Leftovers))]
    public async Task Should_End_What_The_Killed_Run_Left_And_Finish_Equal_When_Resumed_After_A_Kill_During_An_Index_Build(string leftover)
    {
        var source = await servers.SourceAsync();
        var target = await servers.Target.CreateDatabaseAsync("left_" + leftover.Replace(' ', '_'));
        using var dir = new TempDir();

        Process? tool = null;
        var killed = CliRunner.RunAsync(
            ["migrate", "--direct", "--jobs", "1", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path],
            null, Patience, p => tool = p);
        var building = await WaitForAsync(target, $"SELECT application_name || E'\\n' || query FROM pg_stat_activity WHERE {GinBuild}", killed, "the copy's GIN build");
        tool!.Kill();
        var result = await killed;
        var index = Regex.Match(building, @"\nCREATE INDEX (\S+) ON").Groups[1].Value;
        var id = MigrationJournal.All(dir.Path).Single().Id;
        var name = HeldMigrationLock.ApplicationName(id, "copy");

        Assert.True(result.ExitCode == 137, result.ToString());
        Assert.StartsWith(name + "\n", building, StringComparison.Ordinal);
        // The killed build's session ends by itself (the server checks that its client is there), and its index is not committed.
        await WaitForAsync(target, $"SELECT 'gone' WHERE NOT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() AND application_name = {Db.Literal(name)})", null, "the end of the killed run's sessions");
        Assert.Null(await PgServer.ScalarAsync<string>(target, $"SELECT to_regclass({Db.Literal("public." + index)})::text"));
        Assert.DoesNotContain($"index public.events {index}", await ListAsync(target, $"SELECT item FROM {ToolSchema.Name}.copy_done"));

        var definition = (await PgServer.ScalarAsync<string>(source, $"SELECT indexdef FROM pg_indexes WHERE indexname = {Db.Literal(index)}"))!;
        Task? stand = null;
        if (leftover != "built")
        {
            // A session the killed run left building the same index, which its server does not end. It then stays in
            // its transaction, the index uncommitted: however soon the build is done, only the next run can end it.
            stand = PgServer.ExecuteAsync(target.WithApplicationName(name), definition + "; SELECT pg_catalog.pg_sleep(600)");
            await WaitForAsync(target, $"SELECT query FROM pg_stat_activity WHERE {GinBuild}", stand, "the leftover's build");
        }
        else
        {
            // The index committed without the copy's record of it.
            await PgServer.ExecuteAsync(target, definition);
        }

        using var again = new TempDir();
        var resumed = await CliRunner.RunAsync(leftover == "new run"
            ? ["migrate", "--direct", "--jobs", "1", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", again.Path]
            : ["migrate", "--resume", id, "--not-consistent", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", dir.Path], null, Patience);

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var journal = leftover == "new run" ? MigrationJournal.All(again.Path).Single() : MigrationJournal.Load(dir.Path, id);
        Assert.Equal(StepStatus.Done, journal.Step("verify").Status);
        Assert.Equal(leftover != "new run", resumed.Output.Contains("Resuming the interrupted copy", StringComparison.Ordinal));
        var steps = journal.Step("copy").Tables.Single(t => t.Title == "Copy steps").Rows;
        var builtAgain = steps.Any(r => r[0] == "index" && r[1] == $"public.events: {index}");
        if (stand is not null)
        {
            var ended = await Assert.ThrowsAsync<PostgresException>(() => stand);
            Assert.Equal(PostgresErrorCodes.AdminShutdown, ended.SqlState);
            Assert.Contains("Ending what an interrupted migration left working on the target", resumed.Output, StringComparison.Ordinal);
            Assert.True(builtAgain, $"{index} was not built by the resumed run: {resumed}");
        }
        else
        {
            Assert.Contains($"found built on the target, not in its record: index public.events {index}", resumed.Output, StringComparison.Ordinal);
            Assert.False(builtAgain, $"{index} was built again: {resumed}");
        }

        // Independent of our code: the schema (catalogs and pg_dump --schema-only), every table's rows, no leftover of the tool.
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Assert.Equal(300000L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM events"));
        Assert.Equal(20L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM kinds"));
        Assert.Null(await PgServer.ScalarAsync<string>(target, $"SELECT to_regnamespace('{ToolSchema.Name}')::text"));
    }

    /// <summary>
    /// Polls <paramref name="sql"/> on <paramref name="db"/> until it returns a row; its first column. Fails if
    /// <paramref name="running"/> ends first or nothing is seen within <see cref="Patience"/>.
    /// </summary>
    private static async Task<string> WaitForAsync(PgConnectionInfo db, string sql, Task? running, string what)
    {
        string? seen = null;
        await Eventually.True(async () =>
        {
            if ((seen = await PgServer.ScalarAsync<string>(db, sql)) is not null)
            {
                return true;
            }

            if (running is { IsCompleted: true })
            {
                Assert.Fail($"never saw {what}: the work ended first: {(running is Task<CliResult> cli ? await cli : running.Exception?.GetBaseException().Message)}");
            }

            return false;
        }, Patience, $"never saw {what} within {Patience.TotalMinutes} minutes");
        return seen!;
    }

    private static async Task<List<string>> ListAsync(PgConnectionInfo db, string sql)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        return await Db.ListAsync(conn, sql, r => r.GetString(0), CancellationToken.None);
    }
}
