using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>migrate --databases naming a database it will not move says why: not there, a template, closed to connections, or no CONNECT.</summary>
public sealed class InstanceDatabasesTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public async Task Should_Say_A_Named_Database_Is_A_Template_Not_That_Its_Role_May_Not_Connect()
    {
        var db = await servers.Source.CreateDatabaseAsync("tmpl");
        await servers.Source.ExecuteAsync("postgres", $"ALTER DATABASE \"{db.Database}\" IS_TEMPLATE true");
        var closed = await servers.Source.CreateDatabaseAsync("closed");
        await servers.Source.ExecuteAsync("postgres", $"ALTER DATABASE \"{closed.Database}\" ALLOW_CONNECTIONS false");
        using var dir = new TempDir();
        string[] Args(string databases) => ["migrate", "--databases", databases, "--source", CliRunner.Url(db.WithDatabase("postgres")), "--target", CliRunner.Url(servers.Target.Cluster.Superuser()), "--workdir", dir.Path];

        var template = await CliRunner.RunAsync(Args(db.Database), null);
        var noConnections = await CliRunner.RunAsync(Args(closed.Database), null);
        var missing = await CliRunner.RunAsync(Args("no_such_database"), null);

        Assert.True(template.ExitCode == 2, template.ToString());
        Assert.Contains($"'{db.Database}', a template database of the source", template.Stderr, StringComparison.Ordinal);
        Assert.Contains("IS_TEMPLATE false", template.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("may not connect", template.Stderr, StringComparison.Ordinal);
        Assert.True(noConnections.ExitCode == 2, noConnections.ToString());
        Assert.Contains("allows no connections", noConnections.Stderr, StringComparison.Ordinal);
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains("which the source does not have", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Advise_An_Extension_For_A_Database_Still_To_Create_In_Template1_Not_In_The_Urls_Database()
    {
        var db = await servers.Source.CreateDatabaseAsync("superext");
        await servers.Source.ExecuteAsync(db.Database, "CREATE EXTENSION pageinspect");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        using var dir = new TempDir();

        var blocked = await CliRunner.RunAsync(["migrate", "--databases", db.Database, "--source", CliRunner.Url(db), "--target", CliRunner.Url(target), "--workdir", dir.Path], null);

        Assert.True(blocked.ExitCode == 3, blocked.ToString());
        Assert.Contains($"CREATE EXTENSION pageinspect in database template1 (the database {db.Database} is created from it)", blocked.Output, StringComparison.Ordinal);
        Assert.DoesNotContain($"in database {target.Database}", blocked.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Target.Cluster.Superuser(), $"SELECT count(*) FROM pg_database WHERE datname = '{db.Database}'"));
    }
}
