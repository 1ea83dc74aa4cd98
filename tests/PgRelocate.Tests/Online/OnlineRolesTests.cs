using PgRelocate.Migration;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Migration;
using Sql = PgRelocate.Connections.Db;

namespace PgRelocate.Tests.Online;

/// <summary>
/// migrate --online --roles: the four-role source moved into a CREATEROLE (not superuser) target while an
/// application writes to tables of three owners, one with a trigger that writes another role's table. The roles
/// are created before the snapshot copy and the owners given back before the follow, which then writes, as a
/// member of every owner, through the cutover; owners, privileges, roles and rows are compared independently.
/// </summary>
[Heavy(80)]
public class OnlineRolesTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public Task Online_Roles_Carries_Roles_Owners_And_Grants_While_An_Application_Writes() =>
        MigrateWhileWritingAsync(servers.Source, servers.Target, "o15");

    /// <summary>The four-role source on <paramref name="from"/> moved online with --roles into a CREATEROLE target on <paramref name="into"/> while written to, then compared.</summary>
    internal static async Task MigrateWhileWritingAsync(PgServer from, PgServer into, string suffix)
    {
        var servers = (Source: from, Target: into);
        var source = await RoleSource.CreateAsync(servers.Source, suffix);
        var (db, team) = (source.Db, source.Roles[3]);
        // Online, the source's login role publishes every table: it needs REPLICATION and the owners' rights.
        await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE {Sql.Ident(db.User)} REPLICATION; GRANT {source.Writer}, {team} TO {Sql.Ident(db.User)}");
        await servers.Source.ExecuteAsync(db.Database, $"""
            ALTER TABLE shop.notes ADD PRIMARY KEY (id);
            CREATE FUNCTION shop.ledger_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO shop.notes VALUES (NEW.id, 'ledger'); RETURN NEW; END $$;
            ALTER FUNCTION shop.ledger_note() OWNER TO {source.Writer};
            CREATE TRIGGER ledger_note AFTER INSERT ON shop.ledger FOR EACH ROW EXECUTE FUNCTION shop.ledger_note();
            """);
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        using var dir = new TempDir();

        var run = OnlineRun.Start(db, target, dir.Path, "--roles");
        var id = await run.WaitForFollowAsync();
        await using (var writer = ApplicationWriter.Start(db, "INSERT INTO shop.orders (customer, total, secret) VALUES ('w', 1, 'x'); INSERT INTO shop.ledger (amount) VALUES (random()); UPDATE shop.notes SET body = md5(random()::text) WHERE id = 1"))
        {
            await run.WaitForChangesAsync(300);
            await run.CutoverAsync(id);
            await writer.StopAsync();
            Assert.True(writer.Writes > 100, $"only {writer.Writes} writes while following");
        }

        var journal = MigrationJournal.All(dir.Path).Single();
        Assert.Equal(MigrationStatus.Completed, journal.Status);
        Assert.Equal(StepStatus.Done, journal.Step("roles").Status);
        Assert.StartsWith("5 created, 0 reused", journal.Step("roles").Summary, StringComparison.Ordinal);
        Assert.Equal(StepStatus.Done, journal.Step("owners and grants").Status);
        // The trigger fired on the source only (its rows came through the follow), and is enabled again on the target.
        Assert.Equal(await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM shop.notes WHERE body = 'ledger'"), await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM shop.notes WHERE body = 'ledger'"));
        Assert.Equal("O", await PgServer.ScalarAsync<string>(target, "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'ledger_note'"));
        foreach (var table in new[] { "shop.orders", "shop.ledger", "shop.notes", "shop.\"Customers\"" })
        {
            Assert.Equal(await PgServer.ScalarAsync<long>(db, $"SELECT count(*) FROM {table}"), await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM {table}"));
        }

        await RoleSource.CompareAsync(source, target);
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(db), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    [Fact]
    public async Task A_Target_Login_Role_That_Could_Not_Write_The_Tables_Of_Other_Owners_Is_Refused_Before_Anything_Changes_And_Resumed_Once_It_Can()
    {
        var source = await RoleSource.CreateAsync(servers.Source, "i15");
        var (db, team) = (source.Db, source.Roles[3]);
        var owner = Sql.Ident(db.User);
        await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE {owner} REPLICATION; GRANT {source.Writer}, {team} TO {owner}");
        // No grant on the other owners' objects (nor what they revoked from themselves): the login role gives them their owners back without their rights.
        await servers.Source.ExecuteAsync(db.Database, $"""
            ALTER TABLE shop.notes ADD PRIMARY KEY (id);
            REVOKE SELECT ON shop.ledger FROM {owner}, {source.Roles[1]}; REVOKE SELECT ON SEQUENCE shop.ledger_id_seq FROM {owner};
            REVOKE SELECT ON shop.notes FROM {owner}; REVOKE USAGE ON SCHEMA team_space FROM {owner};
            GRANT TRIGGER, REFERENCES ON shop.ledger TO {source.Writer}; GRANT USAGE ON SEQUENCE shop.ledger_id_seq TO {source.Writer};
            GRANT CREATE ON SCHEMA team_space TO {team}; ALTER DEFAULT PRIVILEGES FOR ROLE {team} GRANT TRUNCATE ON TABLES TO {team};
            """);
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        // A member of the owners that does not inherit their rights: it may give them their objects, not write their tables.
        await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Sql.Ident(target.User)} NOINHERIT");
        using var dir = new TempDir();

        var result = await OnlineRun.Start(db, target, dir.Path, "--roles").Result;

        // The check says it before the roles step and the snapshot copy (the follow would refuse those tables later).
        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains($"--roles cannot work: {target.User} does not inherit the privileges of the roles --roles gives objects to ({team}, {source.Writer}), which 2 tables of theirs that migrate's verify reads and an online follow writes need", result.Output, StringComparison.Ordinal);
        var journal = MigrationJournal.All(dir.Path).Single();
        Assert.Equal(StepStatus.Pending, journal.Step("roles").Status);
        Assert.Equal(StepStatus.Pending, journal.Step("snapshot copy").Status);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_roles WHERE rolname = '{team}'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(db.Database), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));

        // Once the login role inherits, the resumed migration checks again, creates the roles, copies, gives the owners, follows and switches.
        await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Sql.Ident(target.User)} INHERIT");
        var resumed = OnlineRun.Resume(db, target, dir.Path, journal.Id);
        await resumed.WaitForFollowAsync();
        await resumed.CutoverAsync(journal.Id);
        Assert.Equal(StepStatus.Done, MigrationJournal.All(dir.Path).Single().Step("owners and grants").Status);
        // (Not the catalogs' ACLs line by line: the revokes above leave the source an explicit ACL equal to the default one.)
        Assert.Equal(source.Writer, await PgServer.ScalarAsync<string>(target, "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'shop' AND tablename = 'ledger'"));
        Assert.Equal(team, await PgServer.ScalarAsync<string>(target, "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'shop' AND tablename = 'notes'"));
        Assert.Equal(team, await PgServer.ScalarAsync<string>(target, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'team_space'"));
        await DatabaseSnapshot.AssertSameAsync(db, target);
    }
}

/// <summary>The same into PostgreSQL 17, where a CREATEROLE role needs membership with SET in the roles it gives objects to.</summary>
public class OnlineRolesPg17Tests(OnlineServers.LogicalServer source, Pg17Server target) : IClassFixture<OnlineServers.LogicalServer>, IClassFixture<Pg17Server>
{
    [Fact]
    public Task Online_Roles_Into_PostgreSQL_17_Carries_Roles_Owners_And_Grants_While_An_Application_Writes() =>
        OnlineRolesTests.MigrateWhileWritingAsync(source, target, "o17");
}
