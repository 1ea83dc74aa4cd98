using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Catalog;

/// <summary>
/// A lock held by another role's session, whose details pg_stat_activity hides from the login role, ends in a
/// refusal naming that session, not a crash.
/// </summary>
public class OtherRolesObjectsTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Name_Another_Roles_Session_Holding_A_Lock_And_Exit_1()
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE busy (id int)");
        var target = await ProviderTargets.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "CREATE TABLE busy (id int); INSERT INTO busy VALUES (1)");
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        await using var admin = new NpgsqlConnection(server.Cluster.Superuser(target.Database).WithApplicationName("admin-console").ToNpgsqlConnectionString());
        await admin.OpenAsync();
        await using var tx = await admin.BeginTransactionAsync();
        await Db.ExecuteAsync(admin, "LOCK TABLE public.busy IN ACCESS SHARE MODE", CancellationToken.None);

        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database, "--lock-timeout", "3");

        Assert.True(restore.ExitCode == 1, restore.ToString());
        Assert.True(restore.Stderr.Contains($"session {admin.ProcessID}", StringComparison.Ordinal), restore.ToString());
        Assert.True(restore.Stderr.Contains("another role's session", StringComparison.Ordinal), restore.ToString());
        Assert.True(restore.Stderr.Contains("Nothing was changed.", StringComparison.Ordinal), restore.ToString());
        Assert.DoesNotContain("InvalidCastException", restore.Output, StringComparison.Ordinal);
        await tx.RollbackAsync();
        Assert.Equal(1, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM busy"));
    }
}
