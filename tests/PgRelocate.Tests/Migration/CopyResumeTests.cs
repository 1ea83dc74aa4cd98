using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// `migrate --direct` killed with SIGKILL during its rows, during its index builds and between the two, then
/// resumed: what the killed run committed (read from the target before the resume) is kept and not copied again,
/// and the target ends equal to the source, compared row by row without our code, with no row twice.
/// </summary>
[Heavy(170)]
public class CopyResumeTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    /// <summary>Split tables larger than this, so that the copy's one large table is cut into several ranges.</summary>
    private const string SplitBytes = "262144";

    private static readonly string Committed = $"SELECT item FROM {ToolSchema.Name}.copy_done ORDER BY 1";

    /// <summary>
    /// Copied one table or range at a time (--jobs 1), largest estimate first: "other" (its GIN index weighs most),
    /// "medium", then the ranges of "big" (no key, so a range copied twice would show as rows twice), then the small tables.
    /// </summary>
    private async Task<PgConnectionInfo> SourceAsync(string name)
    {
        var db = await servers.Source.CreateDatabaseAsync(name);
        await PgServer.ExecuteAsync(db, """
            CREATE TABLE other (id int PRIMARY KEY, j jsonb);
            CREATE TABLE medium (id serial PRIMARY KEY, v text, w int);
            CREATE TABLE big (id int, pad text);
            CREATE TABLE tiny (id int PRIMARY KEY, medium_id int REFERENCES medium, note text);
            CREATE TABLE tiny2 (k text PRIMARY KEY);
            INSERT INTO other SELECT g, jsonb_build_object('g', g, 'tags', jsonb_build_array(g % 7, g % 11)) FROM generate_series(1, 1000) g;
            CREATE INDEX other_j ON other USING gin (j);
            INSERT INTO medium (v, w) SELECT md5(g::text), g % 100 FROM generate_series(1, 2000) g;
            CREATE INDEX medium_v ON medium (v);
            CREATE INDEX medium_w ON medium (w);
            INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 30000) g;
            INSERT INTO tiny SELECT g, g, 'note ' || g FROM generate_series(1, 50) g;
            INSERT INTO tiny2 SELECT 'k' || g FROM generate_series(1, 20) g;
            SELECT lo_from_bytea(0, 'large object');
            ANALYZE;
            """);
        return db;
    }

    private static string[] Migrate(PgConnectionInfo source, PgConnectionInfo target, string workDir, params string[] extra) =>
        ["migrate", "--direct", "--jobs", "1", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", workDir, .. extra];

    private static string[] Resume(string id, PgConnectionInfo source, PgConnectionInfo target, string workDir, params string[] extra) =>
        ["migrate", "--resume", id, "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", workDir, .. extra];

    private static Dictionary<string, string> Fault(string point) => new() { [FaultInjection.Variable] = $"kill:copy:{point}", [DirectCopyStep.SplitVariable] = SplitBytes };

    private static readonly Dictionary<string, string> Split = new() { [DirectCopyStep.SplitVariable] = SplitBytes };

    public static TheoryData<string, string> KillPoints() => new()
    {
        // Two whole tables and two ranges of "big" in; the rest of "big" and the small tables not.
        { "chunk-4", "during the rows" },
        // "other": its GIN index built, its primary key's index not yet made a constraint.
        { "index-2", "during the index builds" },
        // Every row in; the indexes of the last table copied not begun.
        { "rows-in", "between the rows and the indexes" },
    };

    [Theory]
    [MemberData(nameof(KillPoints))]
    public async Task Should_Keep_What_Was_Committed_And_Finish_Equal_When_Resumed_After_A_Kill(string point, string when)
    {
        var source = await SourceAsync("resume_" + point.Replace('-', '_'));
        var target = await servers.Target.CreateDatabaseAsync("resumed_" + point.Replace('-', '_'));
        using var dir = new TempDir();

        var killed = await CliRunner.RunAsync(Migrate(source, target, dir.Path, "--read-only-source"), Fault(point));
        var id = MigrationJournal.All(dir.Path).Single().Id;
        var committed = await ListAsync(target, Committed);
        var rowsIn = committed.Where(i => i.StartsWith("rows ", StringComparison.Ordinal)).Select(i => i[5..]).ToList();
        var resumed = await CliRunner.RunAsync(Resume(id, source, target, dir.Path), Split);

        Assert.True(killed.ExitCode == 137, $"killed {when}: {killed}");
        Assert.Contains("rows public.other", committed);
        var ranges = rowsIn.Count(r => r.StartsWith("public.big pages ", StringComparison.Ordinal));
        if (point == "chunk-4")
        {
            Assert.Contains("rows public.medium", committed);
            Assert.True(ranges == 2, string.Join(", ", committed));
            Assert.DoesNotContain(committed, i => i.StartsWith("rows public.tiny", StringComparison.Ordinal));
        }
        else if (point == "index-2")
        {
            Assert.Contains("index public.other other_j", committed);
            Assert.DoesNotContain("constraint public.other other_pkey", committed);
        }
        else
        {
            Assert.True(ranges > 2, string.Join(", ", committed));
            Assert.Contains("rows public.tiny", committed);
            Assert.Contains("rows public.tiny2", committed);
            Assert.True(committed.Count(c => c.StartsWith("analyze ", StringComparison.Ordinal)) < 5, string.Join(", ", committed));
        }

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("Resuming the interrupted copy", resumed.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Starting the copy over", resumed.Output, StringComparison.Ordinal);
        var journal = MigrationJournal.Load(dir.Path, id);
        Assert.Equal(StepStatus.Done, journal.Step("verify").Status);
        var steps = journal.Step("copy").Tables.Single(t => t.Title == "Copy steps").Rows;
        var copiedAgain = steps.Where(r => r[0] == "data" && rowsIn.Contains(r[1])).Select(r => r[1]).ToList();
        Assert.True(copiedAgain.Count == 0, $"copied again after a kill {when}: {string.Join(", ", copiedAgain)}");
        // A small table's index builds, constraints and ANALYZE are one step, "indexes", naming each ("index t_pkey, constraint t_pkey, analyze").
        var built = steps.Where(r => r[0] is "index" or "constraint").Select(r => $"{r[0]} {r[1].Replace(": ", " ", StringComparison.Ordinal)}")
            .Concat(steps.Where(r => r[0] == "indexes").SelectMany(r => r[1][(r[1].IndexOf(": ", StringComparison.Ordinal) + 2)..].Split(", ")
                .Select(item => item.Split(' ') is [var kind, .. var name] ? $"{kind} {r[1][..r[1].IndexOf(": ", StringComparison.Ordinal)]} {string.Join(' ', name)}".TrimEnd() : item)))
            .ToList();
        var builtAgain = built.Where(committed.Contains).ToList();
        Assert.Empty(builtAgain);
        // What was not in is done by the resumed run: rows (none left after "rows-in"), then indexes.
        Assert.Equal(point != "rows-in", steps.Any(r => r[0] == "data"));
        Assert.Contains(built, b => b.StartsWith("index ", StringComparison.Ordinal));

        // Independent of our code: every table's exact row count and digest, the schema, no leftover of the tool.
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Assert.Equal(30000L, await PgServer.ScalarAsync<long>(target, "SELECT count(DISTINCT id) FROM big"));
        Assert.Equal(30000L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM big"));
        Assert.Null(await PgServer.ScalarAsync<string>(target, $"SELECT to_regnamespace('{ToolSchema.Name}')::text"));
    }

    [Fact]
    public async Task Should_Refuse_A_Resume_Without_Read_Only_Source_Unless_Not_Consistent_Is_Given()
    {
        var source = await SourceAsync("inconsistent");
        var target = await servers.Target.CreateDatabaseAsync("inconsistent_target");
        using var dir = new TempDir();

        var killed = await CliRunner.RunAsync(Migrate(source, target, dir.Path), Fault("chunk-4"));
        var id = MigrationJournal.All(dir.Path).Single().Id;
        var before = await ListAsync(target, Committed);
        var refused = await CliRunner.RunAsync(Resume(id, source, target, dir.Path), Split);
        var after = await ListAsync(target, Committed);
        var accepted = await CliRunner.RunAsync(Resume(id, source, target, dir.Path, "--not-consistent"), Split);

        Assert.Equal(137, killed.ExitCode);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("--not-consistent", refused.Output, StringComparison.Ordinal);
        Assert.Contains("not read-only", refused.Output, StringComparison.Ordinal);
        Assert.Equal(before, after);
        Assert.True(accepted.ExitCode == 0, accepted.ToString());
        Assert.Contains("Resuming the interrupted copy", accepted.Output, StringComparison.Ordinal);
        var steps = MigrationJournal.Load(dir.Path, id).Step("copy").Tables.Single(t => t.Title == "Copy steps").Rows;
        Assert.DoesNotContain(steps, r => r[0] == "data" && r[1] == "public.medium");
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Fail_Verify_When_The_Source_Changed_Before_A_Not_Consistent_Resume()
    {
        var source = await SourceAsync("changed");
        var target = await servers.Target.CreateDatabaseAsync("changed_target");
        using var dir = new TempDir();

        var killed = await CliRunner.RunAsync(Migrate(source, target, dir.Path), Fault("chunk-4"));
        var id = MigrationJournal.All(dir.Path).Single().Id;
        // "medium" is in already: this write reaches the target only if the table is copied again.
        await PgServer.ExecuteAsync(source, "UPDATE medium SET v = 'changed' WHERE id = 7");
        var resumed = await CliRunner.RunAsync(Resume(id, source, target, dir.Path, "--not-consistent"), Split);

        Assert.Equal(137, killed.ExitCode);
        Assert.True(resumed.ExitCode == 3, resumed.ToString());
        Assert.Equal(StepStatus.Done, MigrationJournal.Load(dir.Path, id).Step("copy").Status);
        Assert.Equal(StepStatus.Failed, MigrationJournal.Load(dir.Path, id).Step("verify").Status);
        // The failure names the table the verification found different.
        Assert.Contains("1 of 5 tables differ (public.medium)", resumed.Output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Start_Over_And_Say_Why_When_The_Schema_Changed_Or_The_Migration_Was_Canceled()
    {
        var source = await SourceAsync("altered");
        var target = await servers.Target.CreateDatabaseAsync("altered_target");
        using var dir = new TempDir();

        var killed = await CliRunner.RunAsync(Migrate(source, target, dir.Path), Fault("chunk-4"));
        var id = MigrationJournal.All(dir.Path).Single().Id;
        await PgServer.ExecuteAsync(source, "ALTER TABLE tiny ADD COLUMN added int DEFAULT 1");
        var resumed = await CliRunner.RunAsync(Resume(id, source, target, dir.Path), Split);

        Assert.Equal(137, killed.ExitCode);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("Starting the copy over, replacing what the target holds: the source's schema is not the one the interrupted copy began with", resumed.Output, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(source, target);

        // A canceled migration leaves no record on the target: the tool's schema is gone with it.
        var other = await servers.Target.CreateDatabaseAsync("canceled_target");
        using var dir2 = new TempDir();
        await CliRunner.RunAsync(Migrate(source, other, dir2.Path), Fault("chunk-4"));
        var second = MigrationJournal.All(dir2.Path).Single().Id;
        Assert.NotNull(await PgServer.ScalarAsync<string>(other, $"SELECT to_regnamespace('{ToolSchema.Name}')::text"));
        var canceled = await CliRunner.RunAsync(["cancel", second, "--source", CliRunner.Url(source), "--target", CliRunner.Url(other), "--workdir", dir2.Path], null);
        Assert.True(canceled.ExitCode == 0, canceled.ToString());
        Assert.Null(await PgServer.ScalarAsync<string>(other, $"SELECT to_regnamespace('{ToolSchema.Name}')::text"));
    }

    [Fact]
    public async Task Should_Start_Over_And_Say_Why_When_Killed_In_The_Last_Section()
    {
        var source = await SourceAsync("last_section");
        var target = await servers.Target.CreateDatabaseAsync("last_section_target");
        using var dir = new TempDir();

        var killed = await CliRunner.RunAsync(Migrate(source, target, dir.Path, "--read-only-source"), Fault("last-section"));
        var id = MigrationJournal.All(dir.Path).Single().Id;
        var resumed = await CliRunner.RunAsync(Resume(id, source, target, dir.Path), Split);

        Assert.Equal(137, killed.ExitCode);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("Starting the copy over, replacing what the target holds: the copy had begun its last section", resumed.Output, StringComparison.Ordinal);
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    private static async Task<List<string>> ListAsync(PgConnectionInfo db, string sql)
    {
        await using var conn = new Npgsql.NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        return await Db.ListAsync(conn, sql, r => r.GetString(0), CancellationToken.None);
    }
}
