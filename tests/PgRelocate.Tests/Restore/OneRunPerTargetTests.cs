using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>One run at a time per target: a restore or a copy holds the lock a migration holds, and a second run is refused before it changes anything.</summary>
[Heavy(40)]
public class OneRunPerTargetTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Refuse_A_Second_Restore_Copy_Or_Migration_While_A_Restore_Writes_The_Target()
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, """
            CREATE TABLE items (id int PRIMARY KEY, name text);
            INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g;
            CREATE VIEW item_names AS SELECT name FROM items;
            """);
        var (target, dir) = await TargetAndArchiveAsync(source, markers: 3);
        using var archive = dir;
        await using var app = await ReadMarkerAsync(target);
        var first = await StartWaitingAsync(target, ["restore", dir.File("a.dump")]);

        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);
        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database);
        var migrate = await CliRunner.RunAsync("migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path);
        // Read in the application's transaction: a new session would queue behind the first restore's DROP.
        var markerRows = await Db.ScalarAsync<long>(app, "SELECT count(*) FROM marker", CancellationToken.None);
        await Db.ExecuteAsync(app, "ROLLBACK", CancellationToken.None);
        var finished = await first;

        foreach (var refused in new[] { restore, copy, migrate })
        {
            Assert.True(refused.ExitCode == 2, refused.ToString());
            Assert.Contains("'pgrelocate restore' is already writing the target", refused.Stderr, StringComparison.Ordinal);
            Assert.Matches(@"is already writing the target \([^)]*\): process [0-9]+, in session [0-9]+ \(application 'pgrelocate restore \(process [0-9]+\)'", refused.Stderr);
            Assert.Contains("One run at a time per database", refused.Stderr, StringComparison.Ordinal);
            Assert.Contains("Nothing was changed.", refused.Stderr, StringComparison.Ordinal);
        }

        Assert.Equal(3, markerRows);
        Assert.True(finished.ExitCode == 0, finished.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    [Fact]
    public async Task Should_Refuse_A_Restore_While_A_Copy_Writes_The_Target_And_Hold_No_Lock_Afterwards()
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 200)");
        var (target, dir) = await TargetAndArchiveAsync(source, markers: 1);
        using var archive = dir;
        await using var app = await ReadMarkerAsync(target);
        var first = await StartWaitingAsync(target, ["copy", "--source", CliRunner.Url(source)]);

        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);
        var markerRows = await Db.ScalarAsync<long>(app, "SELECT count(*) FROM marker", CancellationToken.None);
        await Db.ExecuteAsync(app, "ROLLBACK", CancellationToken.None);
        var finished = await first;
        var again = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(restore.ExitCode == 2, restore.ToString());
        Assert.Contains("'pgrelocate copy' is already writing the target", restore.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, markerRows);
        Assert.True(finished.ExitCode == 0, finished.ToString());
        Assert.True(again.ExitCode == 0, again.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    /// <summary>A target holding <paramref name="markers"/> rows in a marker table, and the source's archive in a new folder.</summary>
    private async Task<(PgConnectionInfo Target, TempDir Dir)> TargetAndArchiveAsync(PgConnectionInfo source, int markers)
    {
        var target = await server.CreateDatabaseAsync("dst");
        await PgServer.ExecuteAsync(target, $"CREATE TABLE marker (id int); INSERT INTO marker SELECT generate_series(1, {markers})");
        var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        return (target, dir);
    }

    /// <summary>An application reading the marker in a transaction it keeps open: a run's emptying waits for it.</summary>
    private static async Task<NpgsqlConnection> ReadMarkerAsync(PgConnectionInfo target)
    {
        var app = new NpgsqlConnection(target.WithApplicationName("reader").ToNpgsqlConnectionString());
        await app.OpenAsync();
        await Db.ExecuteAsync(app, "BEGIN; SELECT * FROM marker", CancellationToken.None);
        return app;
    }

    /// <summary>Starts a run that replaces the target and returns once it waits in its emptying, holding the target's lock.</summary>
    private static async Task<Task<CliResult>> StartWaitingAsync(PgConnectionInfo target, string[] run)
    {
        var first = CliRunner.RunAsync([.. run, "--target", CliRunner.Url(target), "--confirm", target.Database, "--lock-timeout", "300"], null);
        await PgServer.WaitForActivityAsync(target, "wait_event_type = 'Lock' AND backend_type = 'client backend' AND datname = current_database()", first, $"{run[0]} waiting to empty the target");
        return first;
    }
}
