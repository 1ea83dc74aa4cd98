using System.Text;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// `restore --jobs 2` of an archive with enough pre-data entries restores that section in waves of pg_restore runs
/// side by side (see PreDataWaves); the result is compared outside our code, and a failed run of a wave is
/// reported like a failed pre-data section.
/// </summary>
[Heavy(130)]
public sealed class PreDataWavesRestoreTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    /// <summary>
    /// About 900 pre-data entries: 600 tables in three schemas (one named with a space and a quote), ten partitioned
    /// tables of ten partitions each, 60 views and 60 functions, comments, two rows a table.
    /// </summary>
    private static IEnumerable<string> Schema()
    {
        yield return "CREATE SCHEMA app; CREATE SCHEMA \"Odd \"\"Schema\"\"\"; CREATE SCHEMA reports;";
        string[] schemas = ["app", "\"Odd \"\"Schema\"\"\"", "reports"];
        var batch = new StringBuilder();
        for (var i = 1; i <= 600; i++)
        {
            var table = $"{schemas[i % 3]}.\"T {i}\"";
            batch.Append($"CREATE TABLE {table} (id int PRIMARY KEY, v text); INSERT INTO {table} VALUES (1, 'a{i}'), (2, NULL);");
            if (i % 10 == 0)
            {
                batch.Append($"CREATE VIEW {schemas[i % 3]}.\"V {i}\" AS SELECT id, v FROM {table}; COMMENT ON VIEW {schemas[i % 3]}.\"V {i}\" IS 'view {i}';");
                batch.Append($"CREATE FUNCTION {schemas[i % 3]}.f{i}(x int) RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM {table.Replace("'", "''", StringComparison.Ordinal)} WHERE id <= x';");
            }

            if (i % 100 == 0)
            {
                yield return batch.ToString();
                batch.Clear();
            }
        }

        for (var p = 1; p <= 10; p++)
        {
            batch.Append($"CREATE TABLE app.parted{p} (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);");
            for (var m = 1; m <= 10; m++)
            {
                batch.Append($"CREATE TABLE app.parted{p}_{m} PARTITION OF app.parted{p} FOR VALUES FROM ('2024-{m:00}-01') TO ('2024-{m + 1:00}-01');");
            }

            batch.Append($"INSERT INTO app.parted{p} SELECT g, date '2024-01-01' + g FROM generate_series(0, 280, 7) g;");
            yield return batch.ToString();
            batch.Clear();
        }
    }

    /// <summary>A new source database holding <see cref="Schema"/>.</summary>
    private async Task<PgConnectionInfo> WaveSizedAsync(string name)
    {
        var source = await servers.Source.CreateDatabaseAsync(name);
        foreach (var sql in Schema())
        {
            await PgServer.ExecuteAsync(source, sql);
        }

        return source;
    }

    private async Task<(PgConnectionInfo Source, string Archive)> SourceAsync(string name, TempDir dir)
    {
        var source = await WaveSizedAsync(name);
        var archive = dir.File("many.dump");
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", archive);
        Assert.True(dump.ExitCode == 0, dump.ToString());
        return (source, archive);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Restore_A_Large_Pre_Data_Section_In_Waves_With_Jobs()
    {
        using var dir = new TempDir();
        var (source, archive) = await SourceAsync("waves", dir);
        var target = await servers.Target.CreateDatabaseAsync("waves_target");

        var result = await CliRunner.RunAsync("restore", archive, "--target", CliRunner.Url(target), "--jobs", "2", "--log", dir.File("restore.log"));

        Assert.True(result.ExitCode == 0, result.ToString());
        var log = await File.ReadAllTextAsync(dir.File("restore.log"));
        Assert.Matches(@"# pre-data in \d+ waves of up to 2 pg_restore runs side by side", log);
        // Some wave ran as two pg_restore runs.
        Assert.Matches(@"# \[pre-data \d+\.2\] ", log);
        await DatabaseSnapshot.AssertSameAsync(source, target);
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Fact]
    public async Task Should_Restore_The_Pre_Data_In_Waves_While_A_Migration_Dumps()
    {
        // migrate --jobs 2 restores the archive as pg_dump writes it (ScheduledRestore): its pre-data goes in waves too.
        using var dir = new TempDir();
        var source = await WaveSizedAsync("migratewaves");

        var target = await servers.Target.CreateDatabaseAsync("migratewaves_target");

        var result = await CliRunner.RunAsync("migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", "2", "--workdir", dir.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        var logs = Directory.EnumerateFiles(dir.Path, "*.log", SearchOption.AllDirectories).Select(File.ReadAllText).ToList();
        Assert.Contains(logs, l => l.Contains("# pre-data in ", StringComparison.Ordinal) && System.Text.RegularExpressions.Regex.IsMatch(l, @"# \[pre-data \d+\.2\] "));
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Fact]
    public async Task Should_Restore_A_Small_Archive_In_One_Run_With_Jobs()
    {
        var source = await servers.Source.CreateDatabaseAsync("fewwaves");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10); CREATE VIEW v AS SELECT id FROM t");
        var target = await servers.Target.CreateDatabaseAsync("fewwaves_target");
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());

        var result = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--jobs", "2", "--log", dir.File("restore.log"));

        Assert.True(result.ExitCode == 0, result.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        var log = await File.ReadAllTextAsync(dir.File("restore.log"));
        // Few tables: pg_restore's own parallel mode (see ScheduledRestore.WholeFileTables), in one run.
        Assert.False(log.Contains("# [", StringComparison.Ordinal), log);
        Assert.Single(log.Split('\n'), l => l.Contains("pg_restore", StringComparison.Ordinal) && l.Contains("--jobs", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_Copy_The_Same_Schema_With_Its_Pre_Data_In_Waves()
    {
        // copy plans and writes its waves with the same code as restore.
        using var dir = new TempDir();
        var source = await WaveSizedAsync("copywaves");

        var target = await servers.Target.CreateDatabaseAsync("copywaves_target");

        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--jobs", "2", "--log", dir.File("copy.log"));

        Assert.True(copy.ExitCode == 0, copy.ToString());
        Assert.Matches(@"pre-data \d+\.2", await File.ReadAllTextAsync(dir.File("copy.log")));
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Fact]
    public async Task Should_Report_A_Failed_Wave_As_A_Failed_Pre_Data_Section_And_Restore_Nothing_After_It()
    {
        using var dir = new TempDir();
        var (_, archive) = await SourceAsync("wavefail", dir);
        var target = await servers.Target.CreateDatabaseAsync("wavefail_target");
        // The target refuses one table: an event trigger its superuser made (its function where the target's
        // emptiness check does not look, so the target still counts as empty).
        await servers.Target.ExecuteAsync(target.Database, """
            CREATE FUNCTION pg_catalog.test_refuse_one() RETURNS event_trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity LIKE '%"T 300"') THEN
                RAISE EXCEPTION 'table T 300 is refused here';
              END IF;
            END $$;
            CREATE EVENT TRIGGER refuse_one ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION pg_catalog.test_refuse_one();
            """);

        var result = await CliRunner.RunAsync("restore", archive, "--target", CliRunner.Url(target), "--jobs", "2", "--log", dir.File("restore.log"));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Matches(@"pg_restore failed on the pre-data \d+\.\d+", result.Stdout + result.Stderr);
        Assert.Contains("data and post-data", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.Contains("T 300", result.Stdout + result.Stderr, StringComparison.Ordinal);
        // Nothing after the section ran: no table holds a row.
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Target.Cluster.Superuser(target.Database), """SELECT count(*) FROM app."T 3" """));
    }
}
