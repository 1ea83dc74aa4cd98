using PgRelocate.Archives;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Migration;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// restore --roles from an archive, with no source to read: the roles the archive names are created on a
/// CREATEROLE (not superuser) target, NOLOGIN and said so, and the archive's owners and privileges are kept, as
/// pg_dump and the catalogs of both sides show independently of the tool.
/// </summary>
public class RestoreRolesTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public Task Restore_Roles_Keeps_The_Archives_Owners_And_Grants_And_Lists_What_It_Could_Not_Know() =>
        RestoreAndCompareAsync(servers.Source, servers.Target, "a15");

    /// <summary>The four-role source on <paramref name="from"/> dumped, restored with --roles into a CREATEROLE target on <paramref name="into"/>, and compared.</summary>
    internal static async Task RestoreAndCompareAsync(PgServer from, PgServer into, string suffix)
    {
        var servers = (Source: from, Target: into);
        var source = await RoleSource.CreateAsync(servers.Source, suffix);
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        using var dir = new TempDir();
        var archive = dir.File("roles.dump");
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source.Db), "--to", archive);
        Assert.True(dump.ExitCode == 0, dump.ToString());
        var (named, owners) = ArchiveRoles.Read(ArchiveContents.Read(archive).Entries);
        Assert.Equal([.. source.Roles.Append(source.Db.User).Order(StringComparer.Ordinal)], named);
        Assert.Equal([.. new[] { source.Db.User, source.Writer, source.Roles[3] }.Order(StringComparer.Ordinal)], owners);

        var result = await CliRunner.RunAsync("restore", archive, "--roles", "--target", CliRunner.Url(target));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("roles (--roles): 6 created, 0 reused; owners and grants as the archive has them: ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"role {source.Writer} created: NOLOGIN: the archive names it, not its attributes, password or memberships; finish it with ALTER ROLE \"{source.Writer}\" LOGIN PASSWORD", result.Stdout, StringComparison.Ordinal);
        Assert.False(await PgServer.ScalarAsync<bool>(target, $"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{source.Writer}'"));
        // Compared by the servers' superusers, so that the source's login role is compared as the role it is: the archive's owner of most objects.
        var (catalog, lines) = await DatabaseSnapshot.AssertSameOwnersAndPrivilegesAsync(servers.Source.Cluster.Superuser(source.Db.Database), servers.Target.Cluster.Superuser(target.Database));
        Assert.Contains(catalog, l => l.StartsWith($"relation shop.notes owner {source.Roles[3]} acl", StringComparison.Ordinal));
        Assert.Contains(catalog, l => l.StartsWith($"policy recent on shop.orders to {source.Roles[4]}", StringComparison.Ordinal));
        if (lines is not null)
        {
            Assert.Contains($"ALTER TABLE shop.ledger OWNER TO {source.Writer};", lines);
            Assert.Contains($"GRANT SELECT(id) ON TABLE shop.orders TO \"{source.Roles[4]}\";", lines);
            Assert.Contains($"ALTER DEFAULT PRIVILEGES FOR ROLE {source.Roles[3]} IN SCHEMA shop GRANT SELECT ON TABLES  TO \"{source.Roles[4]}\";", lines);
        }

        await DatabaseSnapshot.AssertSameAsync(source.Db, target);
        // The source database's own grant, given to the target database as migrate --roles gives it.
        Assert.Contains($"{source.Roles[2]}=c/", await PgServer.ScalarAsync<string>(target, "SELECT datacl::text FROM pg_database WHERE datname = current_database()"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restore_Roles_Into_A_Target_That_May_Not_Create_Roles_Is_Refused_Before_Anything_Changes()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "b15");
        var target = await servers.Target.CreateDatabaseAsync("heroku_like");
        using var dir = new TempDir();
        var archive = dir.File("roles.dump");
        Assert.Equal(0, (await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source.Db), "--to", archive)).ExitCode);

        var result = await CliRunner.RunAsync("restore", archive, "--roles", "--target", CliRunner.Url(target));
        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains($"--roles needs a target login role that may create roles: {target.User} may not create roles", result.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'"));

        var mapped = await CliRunner.RunAsync("restore", archive, "--roles", "--map-role", "a=b", "--target", CliRunner.Url(target));
        Assert.True(mapped.ExitCode == 2, mapped.ToString());
        Assert.Contains("restore --roles keeps the role names", mapped.Output, StringComparison.Ordinal);
    }
}

/// <summary>The same into PostgreSQL 17, where the login role needs membership with SET to give the created roles their objects.</summary>
public class RestoreRolesPg17Tests(PgServer source, Pg17Server target) : IClassFixture<PgServer>, IClassFixture<Pg17Server>
{
    [Fact]
    public Task Restore_Roles_Into_PostgreSQL_17_Keeps_The_Archives_Owners_And_Grants() =>
        RestoreRolesTests.RestoreAndCompareAsync(source, target, "a17");
}
