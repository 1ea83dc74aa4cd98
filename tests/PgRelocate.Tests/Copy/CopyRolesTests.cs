using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Migration;

namespace PgRelocate.Tests.Copy;

/// <summary>
/// copy --roles: the roles the source database uses created on a CREATEROLE (not superuser) target before the
/// copy, owners and grants given after it, compared with pg_dump and the catalogs independently of the tool; a
/// target that may not create roles is refused before anything changes, as check --roles blocks.
/// </summary>
public class CopyRolesTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public async Task Copy_Roles_Gives_The_Target_The_Sources_Roles_Owners_And_Privileges()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "c15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        var renamed = source.Writer + "_new";

        var result = await CliRunner.RunAsync("copy", "--roles", "--map-role", $"{source.Writer}={renamed}", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("roles (--roles): 5 created, 0 reused;", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("no password (the source's are not readable)", result.Stdout, StringComparison.Ordinal);
        Secrets.AssertAbsent(result.Output, "the copy's output");
        await RoleSource.CompareAsync(source, target, new Dictionary<string, string> { [source.Writer] = renamed });
        Assert.Equal(renamed, await PgServer.ScalarAsync<string>(target, "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'shop' AND tablename = 'ledger'"));
    }

    [Fact]
    public async Task Copy_Roles_Into_A_Target_That_May_Not_Create_Roles_Is_Refused_Before_Anything_Changes()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "n15");
        var target = await servers.Target.CreateDatabaseAsync("heroku_like");

        var result = await CliRunner.RunAsync("copy", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains($"--roles needs a target login role that may create roles: {target.User} may not create roles", result.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_roles WHERE rolname = '{source.Writer}'"));
    }

    [Fact]
    public async Task Copy_Map_Role_Without_Roles_Is_A_Usage_Error()
    {
        var result = await CliRunner.RunAsync("copy", "--map-role", "a=b", "--source", "postgres://u@127.0.0.1:1/a", "--target", "postgres://u@127.0.0.1:1/b");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--map-role renames roles that --roles creates", result.Output, StringComparison.Ordinal);
    }
}
