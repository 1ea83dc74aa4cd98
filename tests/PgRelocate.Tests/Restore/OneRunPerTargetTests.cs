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
        var target = await server.CreateDatabaseAsync("dst");
        await PgServer.ExecuteAsync(target, "CREATE TABLE marker (id int); INSERT INTO marker VALUES (1), (2), (3)");
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());

        // An application reads the marker, so the first restore waits in its emptying, holding the target's lock.
        await using var app = new NpgsqlConnection(target.WithApplicationName("reader").ToNpgsqlConnectionString());
        await app.OpenAsync();
        var tx = await app.BeginTransactionAsync();
        await Db.ExecuteAsync(app, "SELECT * FROM marker", CancellationToken.None);
        var first = CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database, "--lock-timeout", "300");
        await PgServer.WaitForActivityAsync(target, "wait_event_type = 'Lock' AND backend_type = 'client backend' AND datname = current_database()", first, "the first restore waiting to empty the target");

        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);
        var copy = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database);
        var migrate = await CliRunner.RunAsync("migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path);
        // Read in the application's transaction: a new session would queue behind the first restore's DROP.
        var markerRows = await Db.ScalarAsync<long>(app, "SELECT count(*) FROM marker", CancellationToken.None);
        await tx.RollbackAsync();
        var finished = await first;

        foreach (var refused in new[] { restore, copy, migrate })
        {
            Assert.True(refused.ExitCode == 2, refused.ToString());
            Assert.Contains("'pgrelocate restore' is already writing the target", refused.Stderr, StringComparison.Ordinal);
            Assert.Contains("one run at a time per database", refused.Stderr, StringComparison.Ordinal);
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
        var target = await server.CreateDatabaseAsync("dst");
        await PgServer.ExecuteAsync(target, "CREATE TABLE marker (id int); INSERT INTO marker VALUES (1)");
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        await using var app = new NpgsqlConnection(target.WithApplicationName("reader").ToNpgsqlConnectionString());
        await app.OpenAsync();
        var tx = await app.BeginTransactionAsync();
        await Db.ExecuteAsync(app, "SELECT * FROM marker", CancellationToken.None);
        var first = CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--lock-timeout", "300");
        await PgServer.WaitForActivityAsync(target, "wait_event_type = 'Lock' AND backend_type = 'client backend' AND datname = current_database()", first, "the copy waiting to empty the target");

        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);
        var markerRows = await Db.ScalarAsync<long>(app, "SELECT count(*) FROM marker", CancellationToken.None);
        await tx.RollbackAsync();
        var finished = await first;
        var again = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(restore.ExitCode == 2, restore.ToString());
        Assert.Contains("'pgrelocate copy' is already writing the target", restore.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, markerRows);
        Assert.True(finished.ExitCode == 0, finished.ToString());
        Assert.True(again.ExitCode == 0, again.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }
}
