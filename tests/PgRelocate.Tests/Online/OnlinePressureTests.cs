using Npgsql;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// An online migration where a production source is at stake: unlogged tables the application writes all
/// through the follow (copied again at the cutover), a migration killed and never resumed (its slot named with
/// the WAL it holds by every command), and what a cancel says it left.
/// </summary>
[Heavy(75)]
public class OnlinePressureTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Switch_With_Unlogged_Tables_Written_All_Through_The_Follow_Identical()
    {
        var source = await servers.SourceAsync("""
            CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
            CREATE UNLOGGED TABLE sessions (id int PRIMARY KEY, hits bigint NOT NULL, seen text);
            CREATE UNLOGGED TABLE session_events (id bigserial PRIMARY KEY, session int NOT NULL REFERENCES sessions, what text);
            INSERT INTO sessions SELECT g, 0, 'start' FROM generate_series(1, 50) g;
            INSERT INTO session_events (session, what) SELECT 1 + g % 50, 'e' || g FROM generate_series(1, 200) g;
            """);
        var target = await servers.Target.CreateDatabaseAsync("unlogged");
        using var dir = new TempDir();
        var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--online");
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains("2 unlogged tables", Words(check.Stdout), StringComparison.Ordinal);
        Assert.Contains("public.sessions", check.Stdout, StringComparison.Ordinal);
        Assert.Contains("copied again at cutover, while the source is read-only", Words(check.Stdout), StringComparison.Ordinal);
        Assert.DoesNotContain("not carried", check.Stdout, StringComparison.Ordinal);
        // The application writes the unlogged tables (and a logged one) until the cutover makes its database read-only.
        await using var writer = ApplicationWriter.Start(source, """
                INSERT INTO ticks DEFAULT VALUES;
                UPDATE sessions SET hits = hits + 1, seen = md5(random()::text) WHERE id = 1 + (random() * 49)::int;
                INSERT INTO session_events (session, what) VALUES (1 + (random() * 49)::int, 'x');
                DELETE FROM session_events WHERE id = (SELECT min(id) FROM session_events);
                INSERT INTO sessions SELECT max(id) + 1, 0, 'new' FROM sessions;
                """);

        var run = OnlineRun.Start(source, target, dir.Path, "--cutover", "auto", "--max-lag", "5s");
        var result = await run.Result;
        await writer.StopAsync();

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(writer.Writes > 100, $"only {writer.Writes} writes while following");
        var journal = MigrationJournal.All(dir.Path).Single();
        Assert.Equal(MigrationStatus.Completed, journal.Status);
        Assert.Contains("verified identical while following", journal.Step("follow").Summary, StringComparison.Ordinal);
        Assert.Contains("2 unlogged tables copied again and verified identical", journal.Step("cutover").Summary, StringComparison.Ordinal);
        // Outside our code: every row of every table, and the schema as pg_dump prints it.
        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "sessions", "session_events", "ticks");

        Assert.Equal("u", await PgServer.ScalarAsync<string>(target, "SELECT relpersistence::text FROM pg_class WHERE relname = 'sessions'"));
        Assert.True(await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM sessions") > 50, "the application added no session");
    }

    [Fact]
    public async Task Should_Name_A_Killed_And_Never_Resumed_Migration_With_The_Wal_Its_Slot_Holds_Everywhere()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t (v) SELECT 'v' FROM generate_series(1, 100);");
        var target = await servers.Target.CreateDatabaseAsync("abandoned");
        var password = new NpgsqlConnectionStringBuilder(source.ToNpgsqlConnectionString()).Password!;
        // Printed without the password (as *** it would be taken for one): libpq's sources give it when pasted.
        var hidden = PgRelocate.Migration.PastedCommand.Connection(source);
        using var home = new TempDir();
        var passFile = home.File("pgpass");
        await File.WriteAllTextAsync(passFile, source.ToPassFileLine() + "\n");
        File.SetUnixFileMode(passFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var withPassFile = new Dictionary<string, string> { ["PGPASSFILE"] = passFile };
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        run.Process!.Kill(entireProcessTree: true); // SIGKILL: no cleanup, never resumed
        var killed = await run.Result;
        var cancel = $"pgrelocate cancel {id} --source {hidden}";
        Assert.Contains(cancel, Words(killed.Output), StringComparison.Ordinal);

        // The source goes on writing: the slot nobody reads keeps it all.
        await PgServer.ExecuteAsync(source, "INSERT INTO t (v) SELECT repeat(md5(g::text), 30) FROM generate_series(1, 5000) g");
        var withSource = new Dictionary<string, string> { ["PGRELOCATE_SOURCE"] = CliRunner.Url(source) };
        var list = await CliRunner.RunAsync(["list", "--workdir", dir.Path], withSource);
        var listJson = await CliRunner.RunAsync(["list", "--json", "--workdir", dir.Path], withSource);
        var status = await CliRunner.RunAsync("status", id, "--workdir", dir.Path, "--source", CliRunner.Url(source));
        var statusJson = await CliRunner.RunAsync("status", id, "--json", "--workdir", dir.Path, "--source", CliRunner.Url(source));
        // From the journal alone: the password from libpq's own sources, or else said what to give.
        var statusFromJournal = await CliRunner.RunAsync(["status", id, "--workdir", dir.Path], withPassFile);
        var statusWithout = await CliRunner.RunAsync("status", id, "--workdir", dir.Path);
        var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--online");
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", Path.Combine(dir.Path, "x.dump"));
        var copied = await servers.Target.CreateDatabaseAsync("copied");
        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(copied));

        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains($"{id}: its process is gone and its replication slot pgrelocate_{id.Replace('-', '_')} holds", Words(list.Stdout), StringComparison.Ordinal);
        Assert.Contains(cancel, Words(list.Stdout), StringComparison.Ordinal);
        var retained = Retained(System.Text.Json.JsonDocument.Parse(listJson.Stdout).RootElement[0]);
        Assert.True(retained > 100_000, listJson.ToString());
        Assert.Contains("of WAL on the source, growing until it is removed", Words(status.Stdout), StringComparison.Ordinal);
        Assert.Contains(cancel, Words(status.Stdout), StringComparison.Ordinal);
        Assert.True(Retained(System.Text.Json.JsonDocument.Parse(statusJson.Stdout).RootElement) >= retained, statusJson.ToString());
        Assert.Contains("of WAL on the source, growing until it is removed", Words(statusFromJournal.Stdout), StringComparison.Ordinal);
        Assert.Contains(cancel, Words(statusFromJournal.Stdout), StringComparison.Ordinal);
        Assert.Contains("may still hold WAL on the source (the source was not reached", Words(statusWithout.Stdout), StringComparison.Ordinal);
        Assert.Contains("give it in PGRELOCATE_SOURCE, or to status with --source URL", Words(statusWithout.Stdout), StringComparison.Ordinal);
        Assert.Contains("leftover replication slots", check.Stdout, StringComparison.Ordinal);
        Assert.Contains("read by no session", Words(check.Stdout), StringComparison.Ordinal);
        Assert.Contains(cancel, Words(check.Stdout), StringComparison.Ordinal);
        Assert.Contains(cancel, Words(dump.Stderr), StringComparison.Ordinal);
        Assert.True(dump.ExitCode == 0, dump.ToString());
        // The copy looks for the slots beside its own start: the warning is said all the same.
        Assert.Contains(cancel, Words(copy.Stderr), StringComparison.Ordinal);
        Assert.True(copy.ExitCode == 0, copy.ToString());
        foreach (var output in new[] { killed, list, status, statusJson, statusFromJournal, statusWithout, check, dump, copy })
        {
            Assert.DoesNotContain(password, output.ToString(), StringComparison.Ordinal);
        }

        // It grows while nobody reads it.
        await PgServer.ExecuteAsync(source, "INSERT INTO t (v) SELECT repeat(md5(g::text), 30) FROM generate_series(1, 5000) g");
        var later = await CliRunner.RunAsync("status", id, "--json", "--workdir", dir.Path, "--source", CliRunner.Url(source));
        Assert.True(Retained(System.Text.Json.JsonDocument.Parse(later.Stdout).RootElement) > retained, later.ToString());

        // The machine that ran it is gone with its journal: the command it printed, pasted as printed, still removes the slot.
        using var elsewhere = new TempDir();
        var removed = await CliRunner.RunAsync(["cancel", id, "--source", hidden, "--workdir", elsewhere.Path], withPassFile);
        Assert.True(removed.ExitCode == 0, removed.ToString());
        Assert.Contains($"Removed from the source: replication slot pgrelocate_{id.Replace('-', '_')} (read by no session) and publication pgrelocate_{id.Replace('-', '_')}.", Words(removed.Stdout), StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(source.Database), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM pg_publication"));
    }

    [Fact]
    public async Task Should_Say_A_Cancel_During_Follow_Leaves_A_Partial_Copy_On_The_Target()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);");
        var target = await servers.Target.CreateDatabaseAsync("partial");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();

        var cancel = await CliRunner.RunAsync("cancel", id, "--workdir", dir.Path);
        await run.Result;

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Contains("Canceled", cancel.Stdout, StringComparison.Ordinal);
        Assert.Contains("keeps what was copied and applied before the migration stopped: a partial copy of the source", Words(cancel.Stdout), StringComparison.Ordinal);
        Assert.Equal(100L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM t"));
    }

    [Fact]
    public async Task Should_End_A_Blocked_Online_Migrations_Message_With_One_Period()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE loose (v text);", replication: false);
        var target = await servers.Target.CreateDatabaseAsync("refused");
        using var dir = new TempDir();

        var result = await OnlineRun.Start(source, target, dir.Path).Result;

        Assert.Equal(3, result.ExitCode);
        var journal = MigrationJournal.All(dir.Path).Single();
        var error = journal.Error!;
        Assert.Contains("restricts it). 1 more blockers: 'pgrelocate info " + journal.Id + "' lists them. Nothing was changed.", error, StringComparison.Ordinal);
        Assert.DoesNotContain("..", error, StringComparison.Ordinal);
        Assert.DoesNotContain("report", error, StringComparison.Ordinal);

        // Without a report, what the error points to is there.
        var info = await CliRunner.RunAsync("info", journal.Id, "--workdir", dir.Path);
        Assert.Contains("Online prerequisites", info.Stdout, StringComparison.Ordinal);
        Assert.Contains("online: replica identity, block", Words(info.Stdout), StringComparison.Ordinal);
    }

    /// <summary>The text with the console's line wrapping undone.</summary>
    private static string Words(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");

    private static long Retained(System.Text.Json.JsonElement migration) =>
        migration.GetProperty("orphanedSlot").GetProperty("retainedBytes").GetInt64();
}
