using Sql = PgRelocate.Connections.Db;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// --roles with a target login role that does not inherit the privileges of the roles it gives objects to
/// (NOINHERIT; from PostgreSQL 16 also a membership without INHERIT): check --roles blocks where the owners and
/// grants step, migrate's verify or an online follow need those privileges, and warns where nothing does.
/// </summary>
[Heavy(55)]
public class RolesInheritTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public Task A_NoInherit_Login_Role_Is_Refused_Before_Anything_Changes_And_Told_What_To_Run() =>
        NoInheritAsync(servers.Source, servers.Target, "k15");

    [Fact]
    public async Task A_NoInherit_Login_Role_Is_A_Warning_Where_Nothing_Needs_The_Owners_Privileges()
    {
        var team = "rt_lonely_" + Guid.NewGuid().ToString("N")[..6];
        await servers.Source.ExecuteAsync("postgres", $"CREATE ROLE {team} NOLOGIN");
        var source = await servers.Source.CreateDatabaseAsync("lonely");
        await servers.Source.ExecuteAsync(source.Database, $"CREATE SCHEMA lonely AUTHORIZATION {team}; SET ROLE {Sql.Ident(source.User)}; CREATE TABLE public.t (id int PRIMARY KEY)");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Sql.Ident(target.User)} NOINHERIT");

        var check = await CliRunner.RunAsync("check", "--roles", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));

        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains($"{target.User} does not inherit the privileges of the roles --roles gives objects to ({team}): it gives them their objects, and cannot use those objects afterwards", check.Stdout, StringComparison.Ordinal);
        using var dir = new TempDir();
        var migrate = await CliRunner.RunAsync("migrate", "--roles", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path);
        Assert.True(migrate.ExitCode == 0, migrate.ToString());
        Assert.Equal(team, await PgServer.ScalarAsync<string>(target, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'lonely'"));
    }

    /// <summary>
    /// A NOINHERIT target login role (a member of the owners, not inheriting their privileges, which the grants on
    /// their objects need): check --roles blocks naming what would fail and what to run, migrate and copy --roles are
    /// refused before anything changes; once it inherits, migrate --roles carries everything.
    /// </summary>
    internal static async Task NoInheritAsync(PgServer from, PgServer into, string suffix)
    {
        var source = await RoleSource.CreateAsync(from, suffix);
        var target = await RoleSource.CreateRoleTargetAsync(into);
        var login = Sql.Ident(target.User);
        await into.ExecuteAsync("postgres", $"ALTER ROLE {login} NOINHERIT");
        var (source15, target15) = (CliRunner.Url(source.Db), CliRunner.Url(target));

        var check = await CliRunner.RunAsync("check", "--roles", "--source", source15, "--target", target15);
        Assert.True(check.ExitCode == 3, check.ToString());
        Assert.Contains($"--roles cannot work: {target.User} does not inherit the privileges of the roles --roles gives objects to ({source.Roles[3]}, {source.Writer}), which ", check.Stdout, StringComparison.Ordinal);
        Assert.Contains("grants and revokes on their objects", check.Stdout, StringComparison.Ordinal);
        Assert.Contains($"Run ALTER ROLE {login} INHERIT", check.Stdout, StringComparison.Ordinal);

        using var dir = new TempDir();
        var migrate = await CliRunner.RunAsync("migrate", "--roles", "--source", source15, "--target", target15, "--confirm", target.Database, "--workdir", dir.Path);
        Assert.True(migrate.ExitCode == 3, migrate.ToString());
        Assert.Contains($"{target.User} does not inherit the privileges", migrate.Output, StringComparison.Ordinal);
        var copy = await CliRunner.RunAsync("copy", "--roles", "--source", source15, "--target", target15);
        Assert.True(copy.ExitCode == 3, copy.ToString());
        Assert.Contains("the owners and grants step would fail. Nothing was changed. Run ALTER ROLE", copy.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_roles WHERE rolname IN ({string.Join(", ", source.Roles.Select(Sql.Literal))})"));

        await into.ExecuteAsync("postgres", $"ALTER ROLE {login} INHERIT");
        await RoleSource.MigrateAndCompareAsync(source, target, []);
    }
}

/// <summary>The same into PostgreSQL 17, where a membership has its own INHERIT option and a role may not alter its own INHERIT.</summary>
[Heavy(40)]
public class RolesInheritPg17Tests(PgServer source, Pg17Server target) : IClassFixture<PgServer>, IClassFixture<Pg17Server>
{
    [Fact]
    public Task A_NoInherit_Login_Role_Is_Refused_Before_Anything_Changes_And_Told_What_To_Run() =>
        RolesInheritTests.NoInheritAsync(source, target, "k17");

    [Fact]
    public async Task A_Membership_Without_Inherit_In_An_Owner_The_Target_Has_Blocks_And_Names_The_Grant_To_Run()
    {
        var db = await RoleSource.CreateAsync(source, "g17");
        var into = await RoleSource.CreateRoleTargetAsync(target);
        var (team, login) = (db.Roles[3], Sql.Ident(into.User));
        // PostgreSQL 16+: a member that may SET ROLE to the owner, without its privileges; the roles step grants no other.
        await target.ExecuteAsync("postgres", $"CREATE ROLE {team} NOLOGIN; GRANT {team} TO {login} WITH INHERIT FALSE, SET TRUE");

        var check = await CliRunner.RunAsync("check", "--roles", "--source", CliRunner.Url(db.Db), "--target", CliRunner.Url(into));

        Assert.True(check.ExitCode == 3, check.ToString());
        Assert.Contains($"--roles cannot work: {into.User} does not inherit the privileges of the roles --roles gives objects to ({team}), which ", check.Stdout, StringComparison.Ordinal);
        Assert.True(check.Stdout.Contains($"Run GRANT {Sql.Ident(team)} TO {login} WITH INHERIT TRUE (it is a member without INHERIT) on the target", StringComparison.Ordinal), check.ToString());

        await target.ExecuteAsync("postgres", $"GRANT {team} TO {login} WITH INHERIT TRUE");
        var again = await CliRunner.RunAsync("check", "--roles", "--source", CliRunner.Url(db.Db), "--target", CliRunner.Url(into));
        Assert.DoesNotContain("does not inherit", again.Stdout, StringComparison.Ordinal);
    }
}
