using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Migration;

namespace PgRelocate.Tests.Verify;

/// <summary>
/// verify --roles after migrate --roles: passes on what migrate carried (owners, privileges, default privileges,
/// policies' roles, memberships, the roles' settings in the database), and fails naming each object once one of
/// them is changed on the target. Without --roles those are not compared.
/// </summary>
[Heavy(75)]
public class RolesVerifyTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public async Task Verify_Roles_Passes_After_Migrate_Roles_And_Names_Each_Owner_Grant_Default_Policy_Membership_And_Setting_Changed()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "v15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        await RoleSource.MigrateAndCompareAsync(source, target, []);
        await RolesVerify.AssertPassesAndCatchesAsync(source, target, servers.Target);
    }

    [Fact]
    public async Task Verify_Roles_Follows_Map_Role_And_Map_Role_Without_Roles_Is_A_Usage_Error()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "w15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        var renamed = source.Writer + "_new";
        await RoleSource.MigrateAndCompareAsync(source, target, ["--map-role", $"{source.Writer}={renamed}"], new Dictionary<string, string> { [source.Writer] = renamed });

        var mapped = await CliRunner.RunAsync("verify", "--roles", "--map-role", $"{source.Writer}={renamed}", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
        Assert.True(mapped.ExitCode == 0, mapped.ToString());

        // Without the map, the writer's name differs: its table's owner, its grants and the role itself are named.
        var unmapped = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
        Assert.True(unmapped.ExitCode == 3, unmapped.ToString());
        Assert.Contains($"owner TABLE shop.ledger: differs", unmapped.Stdout, StringComparison.Ordinal);
        Assert.Contains($"source: owned by {source.Writer}", unmapped.Stdout, StringComparison.Ordinal);
        Assert.Contains($"target: owned by {renamed}", unmapped.Stdout, StringComparison.Ordinal);
        Assert.Contains($"role {source.Writer}: missing on the target", unmapped.Stdout, StringComparison.Ordinal);

        var usage = await CliRunner.RunAsync("verify", "--map-role", "a=b", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
        Assert.True(usage.ExitCode == 2, usage.ToString());
        Assert.Contains("--map-role names the roles --roles compares", usage.Output, StringComparison.Ordinal);
    }
}

/// <summary>The same into PostgreSQL 17, where memberships have INHERIT and SET options and CREATEROLE works otherwise.</summary>
public class RolesVerifyPg17Tests(PgServer source, Pg17Server target) : IClassFixture<PgServer>, IClassFixture<Pg17Server>
{
    [Fact]
    public async Task Verify_Roles_Passes_After_Migrate_Roles_Into_PostgreSQL_17_And_Names_What_Changed()
    {
        var db = await RoleSource.CreateAsync(source, "v17");
        var into = await RoleSource.CreateRoleTargetAsync(target);
        await RoleSource.MigrateAndCompareAsync(db, into, []);
        await RolesVerify.AssertPassesAndCatchesAsync(db, into, target);
    }
}

/// <summary>
/// PostgreSQL 16 and 17: both have memberships' INHERIT and SET options, and verify --roles compares them. No
/// pg_dump 16 or newer may be installed to migrate between them: the same roles and database are made on each.
/// </summary>
public class RolesVerifyPg16To17Tests(Pg16Server source, Pg17Server target) : IClassFixture<Pg16Server>, IClassFixture<Pg17Server>
{
    [Fact]
    public async Task Verify_Roles_Compares_The_Inherit_And_Set_Options_Of_Memberships_Where_Both_Servers_Have_Them()
    {
        var s = Guid.NewGuid().ToString("N")[..6];
        var (team, member) = ("vi_team_" + s, "vi_member_" + s);
        var sides = new List<PgConnectionInfo>();
        foreach (var server in new PgServer[] { source, target })
        {
            await server.ExecuteAsync("postgres", $"CREATE ROLE {team} NOLOGIN; CREATE ROLE {member} LOGIN; GRANT {team} TO {member} WITH ADMIN OPTION;");
            var db = await server.CreateDatabaseAsync("inherit");
            await server.ExecuteAsync(db.Database, $"CREATE TABLE public.t (id int); ALTER TABLE public.t OWNER TO {team}; GRANT SELECT ON public.t TO {member}, {Db.Ident(db.User)};");
            sides.Add(db);
        }

        var same = await CliRunner.RunAsync("verify", "--roles", "--json", "--source", CliRunner.Url(sides[0]), "--target", CliRunner.Url(sides[1]));
        Assert.True(same.ExitCode == 0, same.ToString());
        Assert.Contains("\"rolesCompared\": true", same.Stdout, StringComparison.Ordinal);

        // Granted again by the same grantor with other options, the same grant changes.
        await target.ExecuteAsync(sides[1].Database, $"GRANT {team} TO {member} WITH INHERIT FALSE, SET FALSE");
        var differ = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(sides[0]), "--target", CliRunner.Url(sides[1]));
        Assert.True(differ.ExitCode == 3, differ.ToString());
        Assert.Contains($"membership {member} in {team}: differs", differ.Stdout, StringComparison.Ordinal);
        Assert.Contains("source: member with admin option, inherit true, set true", differ.Stdout, StringComparison.Ordinal);
        Assert.Contains("target: member with admin option, inherit false, set false", differ.Stdout, StringComparison.Ordinal);
    }
}

internal static class RolesVerify
{
    /// <summary>
    /// verify --roles passes and the roles' settings in the database are the same on both sides as pg_db_role_setting
    /// says; then, one change of each kind made on the target, it fails naming every one, while verify without
    /// --roles still passes.
    /// </summary>
    public static async Task AssertPassesAndCatchesAsync(RoleSource source, PgConnectionInfo target, PgServer targetServer)
    {
        var (writer, readers, reporter, team, analytics) = (source.Writer, source.Roles[1], source.Roles[2], source.Roles[3], source.Roles[4]);
        Assert.Equal(await DatabaseSettingsAsync(source.Db), await DatabaseSettingsAsync(target));
        Assert.Contains($"{reporter} work_mem=8MB", await DatabaseSettingsAsync(target));

        var same = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
        Assert.True(same.ExitCode == 0, same.ToString());
        Assert.Contains("owners, privileges and roles", same.Stdout, StringComparison.Ordinal);

        var db = Db.Ident(target.Database);
        await targetServer.ExecuteAsync(target.Database, $"""
            ALTER TABLE shop.notes OWNER TO {writer};
            REVOKE SELECT (total) ON shop.orders FROM "{analytics}";
            ALTER DEFAULT PRIVILEGES FOR ROLE {team} IN SCHEMA shop REVOKE SELECT ON TABLES FROM "{analytics}";
            ALTER POLICY recent ON shop.orders TO {readers};
            ALTER ROLE {reporter} IN DATABASE {db} RESET work_mem;
            """);
        // The login role granted the membership: it revokes it (PostgreSQL 16+ keeps a grant per grantor).
        await PgServer.ExecuteAsync(target, $"REVOKE {team} FROM \"{analytics}\"");

        var differ = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
        Assert.True(differ.ExitCode == 3, differ.ToString());
        foreach (var expected in new[]
        {
            "owner TABLE shop.notes: differs", $"source: owned by {team}", $"target: owned by {writer}",
            "privileges COLUMN shop.orders.total: missing on the target", $"source: SELECT to {analytics}",
            $"default privileges future tables of {team} in schema shop: missing on the target",
            "policy roles recent on shop.orders: differs", $"source: to {analytics}", $"target: to {readers}",
            $"membership {analytics} in {team}: missing on the target", "source: member with admin option",
            $"role {reporter}: differs", "settings in this database [work_mem=8MB]", "settings in this database []",
        })
        {
            Assert.True(differ.Stdout.Contains(expected, StringComparison.Ordinal), $"'{expected}' is not in verify's output:\n{differ}");
        }

        // The independent reading agrees: the setting is gone from pg_db_role_setting.
        Assert.DoesNotContain($"{reporter} work_mem=8MB", await DatabaseSettingsAsync(target));

        // Without --roles, owners, grants and roles are not compared (a restore without roles reassigns them).
        var without = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
        Assert.True(without.ExitCode == 0, without.ToString());

        // A policy's expression is the schema's: compared with or without --roles.
        await targetServer.ExecuteAsync(target.Database, "ALTER POLICY recent ON shop.orders USING (id > 20)");
        var policy = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source.Db), "--target", CliRunner.Url(target));
        Assert.True(policy.ExitCode == 3, policy.ToString());
        Assert.Contains("policy shop.orders.recent: differs", policy.Stdout, StringComparison.Ordinal);
        Assert.Contains("(id > 20)", policy.Stdout, StringComparison.Ordinal);
    }

    /// <summary>Each role's settings in the database, from pg_db_role_setting: "role name=value", sorted.</summary>
    private static async Task<List<string>> DatabaseSettingsAsync(PgConnectionInfo db)
    {
        await using var conn = new Npgsql.NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        var rows = await Db.ListAsync(conn, """
            SELECT r.rolname || ' ' || c
            FROM pg_db_role_setting s
            JOIN pg_roles r ON r.oid = s.setrole
            JOIN pg_database d ON d.oid = s.setdatabase
            CROSS JOIN LATERAL unnest(s.setconfig) c
            WHERE d.datname = current_database()
            """, r => r.GetString(0), CancellationToken.None);
        return [.. rows.Order(StringComparer.Ordinal)];
    }
}
