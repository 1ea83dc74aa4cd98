using PgRelocate.Demo;
using PgRelocate.Migration;
using PgRelocate.Tests.Copy;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// migrate restores alongside the dump, from the archive's local copy as it grows: every kind of object
/// arrives, each table's indexes are built by themselves as soon as its rows are in, and the copy is gone after.
/// restore --jobs N of a whole file is scheduled the same way (<c>Restore/ScheduledRestore</c>), its lanes reading the file.
/// </summary>
[Heavy(115)]
public sealed class FollowingRestoreTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public async Task Should_Restore_Every_Column_Type_Partitions_Inheritance_And_Large_Objects_While_Dumping()
    {
        var source = await servers.Source.CreateDatabaseAsync("follow_types");
        await PgServer.ExecuteAsync(source, CopyTests.TypesSql);
        var target = await servers.Target.CreateDatabaseAsync("follow_types_target");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(["migrate", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path, "--jobs", "3"], null);

        Assert.True(result.ExitCode == 0, result.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Assert.Equal("commented: kept with its large object", await PgServer.ScalarAsync<string>(target, CopyTests.LargeObjectCommentsSql));
        var journal = MigrationJournal.All(dir.Path).Single();
        var log = await File.ReadAllTextAsync(Path.Combine(journal.Folder, "restore.log"));
        Assert.Contains("[lane 3]", log, StringComparison.Ordinal);
        Assert.Contains("[index public.", log, StringComparison.Ordinal);
        // The GIN indexes over jsonb are built with little memory, the others with the server's default.
        Assert.Equal(2, log.Split('\n').Count(l => l.StartsWith("# [index public.every_type]", StringComparison.Ordinal) && l.EndsWith("(with maintenance_work_mem=4MB)", StringComparison.Ordinal)));
        Assert.Contains("[post-data]", log, StringComparison.Ordinal);
        Assert.Contains("alongside the dump", journal.Steps.Single(s => s.Name == "restore").Summary, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(journal.Folder, "archive.following")));
    }

    /// <summary>
    /// Built one by one, each small table's indexes and keys cost a pg_restore process each and its ANALYZE a session:
    /// 43 s for 1,000 tiny tables. They go in batches now; a large table (or one with a GIN index) keeps its own runs.
    /// </summary>
    [Fact]
    public async Task Should_Build_Small_Tables_Indexes_And_Keys_In_Batches_While_Dumping()
    {
        var source = await servers.Source.CreateDatabaseAsync("follow_small");
        await PgServer.ExecuteAsync(source, """
            DO $$ BEGIN
              FOR i IN 1..120 LOOP
                EXECUTE format('CREATE TABLE "T %s" (id int PRIMARY KEY, name text UNIQUE, at date); CREATE INDEX ON "T %s" (at); INSERT INTO "T %s" SELECT g, ''n'' || g, date ''2026-01-01'' + g FROM generate_series(1, 3) g', i, i, i);
              END LOOP;
            END $$;
            CREATE TABLE big (id int PRIMARY KEY, body text, at date);
            INSERT INTO big SELECT g, repeat(md5(g::text), 4), date '2026-01-01' + g % 300 FROM generate_series(1, 40000) g;
            CREATE INDEX big_at ON big (at);
            ANALYZE;
            """);
        var target = await servers.Target.CreateDatabaseAsync("follow_small_target");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(["migrate", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path], null);

        Assert.True(result.ExitCode == 0, result.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        var log = await File.ReadAllTextAsync(Path.Combine(MigrationJournal.All(dir.Path).Single().Folder, "restore.log"));
        var runs = log.Split('\n').Where(l => l.StartsWith("# [", StringComparison.Ordinal) && l.Contains("/pg_restore ", StringComparison.Ordinal)).ToList();
        // 120 small tables in batches of 50; the large one's index and its key in runs of their own.
        Assert.Equal(3, runs.Count(l => l.StartsWith("# [indexes and keys of ", StringComparison.Ordinal)));
        Assert.Single(runs, l => l.StartsWith("# [index public.big]", StringComparison.Ordinal));
        Assert.Single(runs, l => l.StartsWith("# [constraints public.big]", StringComparison.Ordinal));
        Assert.DoesNotContain(runs, l => l.StartsWith("# [index public.\"T ", StringComparison.Ordinal));
        // Every table was analyzed on the target.
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NULL AND last_autoanalyze IS NULL"));
        Assert.Equal(121L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_stat_user_tables"));
    }

    /// <summary>
    /// A whole file of many tables (see ScheduledRestore.WholeFileTables), written to a pipe (no data offsets) and without a
    /// manifest: its tables' sizes are the bytes of their rows in the archive, measured by the file's check, so the small
    /// tables still go in batches and the large ones on their own; the lanes read the file itself.
    /// </summary>
    [Fact]
    public async Task Should_Restore_A_Whole_File_On_Lanes_With_Small_Tables_In_Batches_Sized_From_The_Archive()
    {
        var source = await servers.Source.CreateDatabaseAsync("file_small");
        for (var from = 1; from <= 2000; from += 250)
        {
            // A transaction at a time of 250 tables: the default lock table holds no more.
            await PgServer.ExecuteAsync(source, $$"""
                DO $$ BEGIN
                  FOR i IN {{from}}..{{from + 249}} LOOP
                    EXECUTE format('CREATE TABLE "T %s" (id int PRIMARY KEY, name text UNIQUE, at date); CREATE INDEX ON "T %s" (at); INSERT INTO "T %s" SELECT g, ''n'' || g, date ''2026-01-01'' + g FROM generate_series(1, 3) g', i, i, i);
                  END LOOP;
                END $$;
                """);
        }

        await PgServer.ExecuteAsync(source, """
            CREATE TABLE big (id int PRIMARY KEY, body text, at date);
            INSERT INTO big SELECT g, md5(g || 'a') || md5(g || 'b') || md5(g || 'c') || md5(g || 'd'), date '2026-01-01' + g % 300 FROM generate_series(1, 40000) g;
            CREATE INDEX big_at ON big (at);
            CREATE TABLE child (id int PRIMARY KEY, big_id int REFERENCES big);
            INSERT INTO child SELECT g, g FROM generate_series(1, 100) g;
            CREATE SCHEMA "Sales Dept";
            CREATE TABLE "Sales Dept"."Big ""Q"" T" ("Id Col" int, k int, "Code, x" text, body text, r int, PRIMARY KEY ("Id Col", k),
              CONSTRAINT "Big u" UNIQUE ("Code, x") DEFERRABLE INITIALLY DEFERRED, UNIQUE (r) INCLUDE (k));
            INSERT INTO "Sales Dept"."Big ""Q"" T" SELECT g, g % 7, 'c' || g, md5(g || 'x') || md5(g || 'y') || md5(g || 'z'), g FROM generate_series(1, 40000) g;
            CREATE TABLE replicated (id int PRIMARY KEY, body text, big_id int REFERENCES big);
            INSERT INTO replicated SELECT g, md5(g || 'a') || md5(g || 'b') || md5(g || 'c') || md5(g || 'd'), g FROM generate_series(1, 40000) g;
            ALTER TABLE replicated REPLICA IDENTITY USING INDEX replicated_pkey;
            """);
        var target = await servers.Target.CreateDatabaseAsync("file_small_target");
        using var dir = new TempDir();
        var archive = dir.File("piped.dump");
        await Archives.SampleArchives.PgDumpAsync(source, archive, toStdout: true);

        var result = await CliRunner.RunAsync("restore", archive, "--target", CliRunner.Url(target), "--jobs", "2", "--log", dir.File("restore.log"));

        Assert.True(result.ExitCode == 0, result.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        var runs = (await File.ReadAllLinesAsync(dir.File("restore.log"))).Where(l => l.StartsWith("# [", StringComparison.Ordinal) && l.Contains("/pg_restore ", StringComparison.Ordinal)).ToList();
        // Two lanes reading the file (not a pipe); 2,001 small tables in 16 batches of 126; each large one's indexes and
        // keys on their own.
        Assert.Equal(2, runs.Count(l => l.StartsWith("# [lane ", StringComparison.Ordinal) && l.EndsWith(archive, StringComparison.Ordinal)));
        Assert.Equal(16, runs.Count(l => l.StartsWith("# [indexes and keys of ", StringComparison.Ordinal)));
        Assert.Single(runs, l => l.StartsWith("# [index public.big]", StringComparison.Ordinal));
        Assert.Single(runs, l => l.StartsWith("# [constraints public.big]", StringComparison.Ordinal));
        Assert.Single(runs, l => l.StartsWith("# [constraints public.replicated]", StringComparison.Ordinal));
        Assert.Equal("i", await PgServer.ScalarAsync<string>(target, "SELECT relreplident::text FROM pg_class WHERE relname = 'replicated'"));
        // The foreign keys are validated apart, on two sessions: no pg_restore run of post-data takes jobs for them.
        Assert.DoesNotContain(runs, l => l.StartsWith("# [post-data]", StringComparison.Ordinal) && l.Contains("--jobs", StringComparison.Ordinal));
        Assert.Contains("# [foreign keys] 2 added NOT VALID in ", await File.ReadAllTextAsync(dir.File("restore.log")), StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NULL AND last_autoanalyze IS NULL"));
    }

    /// <summary>A restore alongside the dump with two jobs opens four sessions at once (two lanes, two index builds): counted before the target is emptied.</summary>
    [Fact]
    public async Task Should_Count_The_Lanes_And_The_Index_Builds_Before_Emptying_The_Target()
    {
        var source = await servers.Source.CreateDatabaseAsync("file_slots");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)");
        var target = await servers.Target.CreateDatabaseAsync("file_slots_target");
        await PgServer.ExecuteAsync(target, "CREATE TABLE kept (id int)");
        using var dir = new TempDir();

        var result = await servers.Target.WithConnectionLimitAsync(target.User, 3, () =>
            CliRunner.RunAsync(["migrate", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path, "--jobs", "2", "--no-estimate"], null));

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains("4 are needed (2 lanes of table rows and 2 index builds)", result.Output, StringComparison.Ordinal);
        Assert.Contains("or run with --jobs 1 (1 connection", result.Output, StringComparison.Ordinal);
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_tables WHERE tablename = 'kept'"));
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Restore_The_Sample_Database_While_Dumping_With_Owners_Reassigned()
    {
        var source = await servers.Source.CreateDatabaseAsync("follow_sample");
        await SampleDatabase.LoadAsync(servers.Source.Cluster, source, CancellationToken.None);
        var target = await servers.Target.CreateDatabaseAsync("follow_sample_target");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(["migrate", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path, "--compress", "1"], null);

        Assert.True(result.ExitCode == 0, result.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        Assert.Equal(0, await DatabaseSnapshot.SampleObjectsNotOwnedByLoginAsync(target));
    }

    [Fact]
    public async Task Should_Go_On_Past_A_Harmless_Error_In_One_Part_And_Report_It()
    {
        // The target's superuser installed hstore already: the login role may not comment on it, which the
        // pre-data part reports as an error that does no harm.
        var source = await servers.Source.CreateDatabaseAsync("follow_harmless");
        await servers.Source.ExecuteAsync(source.Database, "CREATE EXTENSION hstore");
        await PgServer.ExecuteAsync(source, "CREATE TABLE kv (id int PRIMARY KEY, tags hstore); INSERT INTO kv SELECT g, hstore('n', g::text) FROM generate_series(1, 1000) g;");
        var target = await servers.Target.CreateDatabaseAsync("follow_harmless_target");
        await servers.Target.ExecuteAsync(target.Database, "CREATE EXTENSION hstore");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(["migrate", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path], null);

        Assert.True(result.ExitCode == 0, result.ToString());
        var journal = MigrationJournal.All(dir.Path).Single();
        Assert.StartsWith("Completed with 1 warning", journal.Steps.Single(s => s.Name == "restore").Summary, StringComparison.Ordinal);
        Assert.Equal(1000L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM kv WHERE tags ? 'n'"));
    }

    [Fact]
    public async Task Should_Refuse_A_Compression_Level_That_Is_Not_One()
    {
        var result = await CliRunner.RunAsync("dump", "--source", "postgres://u@127.0.0.1:1/db", "--to", "x.dump", "--compress", "12");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--compress 12 is not a gzip level", result.Stderr, StringComparison.Ordinal);
    }
}
