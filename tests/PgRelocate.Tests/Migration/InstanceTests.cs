using System.Text.Json;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// migrate --databases a,b and --all-databases: two databases of the four-role source, read by a login
/// role that is a member of both owners, moved with --roles in one command into a target server whose login role
/// has CREATEROLE and CREATEDB but is no superuser; each database compared on its own (owners and privileges by
/// the catalogs and pg_dump, data by the snapshot) and by verify. A kill -9 in the second database, then
/// --resume of the parent, finishes it without touching the first's migration.
/// </summary>
[Heavy(230)]
public class InstanceTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Databases_With_Roles_Move_Both_And_A_Kill_In_The_Second_Resumes_Without_Redoing_The_First()
    {
        var (a, b, login) = await InstanceSource.CreateAsync(servers.Source, "i15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        using var dir = new TempDir();
        string[] Args(params string[] more) => ["migrate", "--databases", $"{a.Db.Database},{b.Db.Database}", "--roles", "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path, .. more];

        var killed = await CliRunner.RunAsync(Args(), new Dictionary<string, string> { [FaultInjection.Variable] = $"kill:{b.Db.Database}/restore:start" });

        Assert.True(killed.ExitCode != 0, killed.ToString());
        var parent = InstanceSource.Parent(dir.Path);
        var first = File.ReadAllText(Path.Combine(dir.Path, parent + "-1", MigrationJournal.FileName));
        Assert.True(Status(first) == "Completed", killed.ToString());
        Assert.Equal("Running", Status(File.ReadAllText(Path.Combine(dir.Path, parent + "-2", MigrationJournal.FileName))));

        var list = await CliRunner.RunAsync("list", "--workdir", dir.Path);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains($"{parent}-1", list.Stdout, StringComparison.Ordinal);
        Assert.True(list.Stdout.IndexOf(parent, StringComparison.Ordinal) < list.Stdout.IndexOf($"{parent}-1", StringComparison.Ordinal), list.Stdout);

        var resumed = await CliRunner.RunAsync(["migrate", "--resume", parent, "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path, "--report", dir.File("report.md")], null);

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains($"database {a.Db.Database}: done in a previous run (migration {parent}-1)", resumed.Output, StringComparison.Ordinal);
        // The first database's migration was not run again: its journal is as the killed run left it, step times and all.
        Assert.Equal(first, File.ReadAllText(Path.Combine(dir.Path, parent + "-1", MigrationJournal.FileName)));
        foreach (var db in new[] { a, b })
        {
            var into = target.WithDatabase(db.Db.Database);
            await DatabaseSnapshot.AssertSameOwnersAndPrivilegesAsync(login.WithDatabase(db.Db.Database), into);
            await DatabaseSnapshot.AssertSameAsync(db.Db, into);
            var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(db.Db), "--target", CliRunner.Url(into));
            Assert.True(verify.ExitCode == 0, verify.ToString());
            Assert.Equal(db.Db.User, await PgServer.ScalarAsync<string>(into, "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()"));
        }

        var report = await File.ReadAllTextAsync(dir.File("report.md"));
        Assert.Contains($"Migration {parent}-1", report, StringComparison.Ordinal);
        Assert.Contains($"Migration {parent}-2", report, StringComparison.Ordinal);
        var status = await CliRunner.RunAsync("status", parent, "--once", "--workdir", dir.Path);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("Completed", status.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Target_Database_That_Holds_Objects_Is_Refused_Without_Confirm_All_Before_Anything_Changes()
    {
        var (a, b, login) = await InstanceSource.CreateAsync(servers.Source, "e15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        await servers.Target.ExecuteAsync("postgres", $"CREATE DATABASE {Db.Ident(b.Db.Database)} OWNER {Db.Ident(target.User)}");
        await PgServer.ExecuteAsync(target.WithDatabase(b.Db.Database), "CREATE TABLE keep_me (id int)");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync("migrate", "--databases", $"{a.Db.Database},{b.Db.Database}", "--roles", "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path);

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains($"database {b.Db.Database}: The target database '{b.Db.Database}' is not empty", result.Output, StringComparison.Ordinal);
        Assert.Contains("Pass --confirm-all", result.Output, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed on the target", result.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_database WHERE datname = '{a.Db.Database}'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_roles WHERE rolname IN ('{a.Db.User}', '{b.Db.User}', '{a.Writer}')"));
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(target.WithDatabase(b.Db.Database), "SELECT count(*) FROM pg_tables WHERE tablename = 'keep_me'"));

        var usage = await CliRunner.RunAsync("migrate", "--databases", a.Db.Database, "--confirm", a.Db.Database, "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path);
        Assert.True(usage.ExitCode == 2, usage.ToString());
        Assert.Contains("pass --confirm-all", usage.Output, StringComparison.Ordinal);
        var itself = await CliRunner.RunAsync("migrate", "--databases", a.Db.Database, "--confirm-all", "--source", CliRunner.Url(login), "--target", CliRunner.Url(login), "--workdir", dir.Path);
        Assert.True(itself.ExitCode == 2, itself.ToString());
        Assert.Contains($"database {a.Db.Database}: ", itself.Output, StringComparison.Ordinal);
        Assert.Contains("are the same database", itself.Output, StringComparison.Ordinal);
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(a.Db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'shop' AND tablename = 'orders'"));
        // Online, every database's online prerequisites are checked with the rest, before anything changes: this source does not decode its WAL.
        var online = await CliRunner.RunAsync("migrate", "--databases", $"{a.Db.Database},{b.Db.Database}", "--online", "--roles", "--confirm-all", "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path);
        Assert.True(online.ExitCode == 3, online.ToString());
        Assert.True(online.Output.Contains($"database {a.Db.Database}: Online prerequisite 'online: wal_level' blocks the migration", StringComparison.Ordinal), online.ToString());
        Assert.Contains("Nothing was changed on the target", online.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_database WHERE datname = '{a.Db.Database}'"));
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Cancel_Of_The_Parent_Stops_The_Running_Database_And_Lifts_Its_Read_Only_Source()
    {
        var (a, b, login) = await InstanceSource.CreateAsync(servers.Source, "c15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        using var dir = new TempDir();
        // The second database's table is locked once every check passed (the checks read it): its pg_dump waits for the lock,
        // so the migration is certainly inside it when it is canceled. The first database's migration runs in between.
        await using var blocker = new Npgsql.NpgsqlConnection(servers.Source.Cluster.Superuser(b.Db.Database).ToNpgsqlConnectionString());
        await blocker.OpenAsync();
        var run = CliRunner.RunAsync(["migrate", "--databases", $"{a.Db.Database},{b.Db.Database}", "--read-only-source", "--roles", "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path], null);
        await WaitForStepAsync(dir.Path, "-1", "dump");
        await using var tx = await blocker.BeginTransactionAsync();
        await using (var cmd = new Npgsql.NpgsqlCommand("LOCK TABLE shop.orders IN ACCESS EXCLUSIVE MODE", blocker, tx))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        var parent = await WaitForStepAsync(dir.Path, "-2", "dump");
        var cancel = await CliRunner.RunAsync("cancel", parent, "--workdir", dir.Path);
        var result = await run;
        await tx.RollbackAsync();

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.True(result.ExitCode == 130, result.ToString());
        Assert.Equal(MigrationStatus.Canceled, MigrationJournal.Load(dir.Path, parent).Status);
        Assert.Equal(MigrationStatus.Completed, MigrationJournal.Load(dir.Path, parent + "-1").Status);
        Assert.Equal(MigrationStatus.Canceled, MigrationJournal.Load(dir.Path, parent + "-2").Status);
        Assert.Equal("off", await PgServer.ScalarAsync<string>(b.Db, "SHOW default_transaction_read_only"));
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Cancel_Of_A_Killed_Parent_Undoes_The_Interrupted_Database_On_The_Sides_Given()
    {
        var (a, b, login) = await InstanceSource.CreateAsync(servers.Source, "k15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        using var dir = new TempDir();

        var killed = await CliRunner.RunAsync(["migrate", "--databases", $"{a.Db.Database},{b.Db.Database}", "--read-only-source", "--roles", "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path],
            new Dictionary<string, string> { [FaultInjection.Variable] = $"kill:{b.Db.Database}/dump:start" });
        Assert.True(killed.ExitCode != 0, killed.ToString());
        Assert.True(await PgServer.ScalarAsync<string>(b.Db, "SHOW default_transaction_read_only") == "on", killed.ToString());
        var parent = InstanceSource.Parent(dir.Path);

        var status = await CliRunner.RunAsync("status", parent, "--once", "--workdir", dir.Path);
        Assert.Contains("Interrupted, 1/2 databases moved", status.Stdout, StringComparison.Ordinal);
        var cancel = await CliRunner.RunAsync("cancel", parent, "--source", CliRunner.Url(login), "--workdir", dir.Path);

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Equal("off", await PgServer.ScalarAsync<string>(b.Db, "SHOW default_transaction_read_only"));
        Assert.Equal(MigrationStatus.Canceled, MigrationJournal.Load(dir.Path, parent).Status);
        Assert.Equal(MigrationStatus.Canceled, MigrationJournal.Load(dir.Path, parent + "-2").Status);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task A_Detached_Instance_Migration_Runs_In_The_Background_And_Status_Follows_It_To_The_End()
    {
        var (a, b, login) = await InstanceSource.CreateAsync(servers.Source, "b15");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        using var dir = new TempDir();

        var started = await CliRunner.RunAsync("migrate", "--databases", $"{a.Db.Database},{b.Db.Database}", "--roles", "--direct", "--detach", "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path);
        Assert.True(started.ExitCode == 0, started.ToString());
        var parent = InstanceSource.Parent(dir.Path);
        var status = await CliRunner.RunAsync(["status", parent, "--workdir", dir.Path], null, TimeSpan.FromMinutes(10));

        Assert.True(status.ExitCode == 0, status + File.ReadAllText(Path.Combine(dir.Path, parent, "output.log")));
        Assert.Contains($"{parent}: Completed, 2/2 databases moved", status.Stdout, StringComparison.Ordinal);
        var info = await CliRunner.RunAsync("info", parent, "--workdir", dir.Path);
        Assert.Contains($"migration {parent}-2 completed", info.Stdout, StringComparison.Ordinal);
        foreach (var db in new[] { a, b })
        {
            await DatabaseSnapshot.AssertSameAsync(db.Db, target.WithDatabase(db.Db.Database));
        }
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task A_Detached_Online_Instance_Migration_Says_On_The_Terminal_How_To_Remove_What_It_Leaves_On_The_Source()
    {
        var (a, b, login) = await InstanceSource.CreateAsync(servers.Source, "d16");
        var target = await RoleSource.CreateRoleTargetAsync(servers.Target);
        using var dir = new TempDir();

        var started = await CliRunner.RunAsync("migrate", "--databases", $"{a.Db.Database},{b.Db.Database}", "--online", "--roles", "--detach", "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path);

        Assert.True(started.ExitCode == 0, started.ToString());
        var parent = InstanceSource.Parent(dir.Path);
        var words = string.Join(' ', started.Stdout.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries));
        // Without the password: printed as *** it would be taken for one.
        Assert.Contains($"Should this process or its machine die, remove what migration {parent} leaves on the source with: pgrelocate cancel {parent} --source {PastedCommand.Connection(login)}", words, StringComparison.Ordinal);
        Assert.DoesNotContain("***", started.Stdout, StringComparison.Ordinal);
        // The background run stops at the online prerequisites (this source does not decode its WAL): nothing is left running.
        var status = await CliRunner.RunAsync(["status", parent, "--workdir", dir.Path], null, TimeSpan.FromMinutes(5));
        Assert.True(status.ExitCode == 3, status + File.ReadAllText(Path.Combine(dir.Path, parent, "output.log")));
    }

    /// <summary>
    /// Waits until the child migration whose id ends with <paramref name="suffix"/> has reached <paramref name="step"/> (runs it, or
    /// has done it: a quick step can begin and end between two looks at the journal); returns its parent's id.
    /// </summary>
    private static async Task<string> WaitForStepAsync(string workDir, string suffix, string step)
    {
        MigrationJournal? child = null;
        await Eventually.True(
            () => (child = MigrationJournal.All(workDir).FirstOrDefault(j => InstanceJournal.ParentOf(j) is not null && j.Id.EndsWith(suffix, StringComparison.Ordinal)))
                ?.Steps.FirstOrDefault(s => s.Name == step)?.Status is StepStatus.Running or StepStatus.Done,
            TimeSpan.FromMinutes(2), $"The migration never reached step {step} of its database {suffix}.");
        return InstanceJournal.ParentOf(child!)!;
    }

    [Fact]
    public void Each_Database_Is_Staged_In_The_Via_Folder_Under_Its_Own_Name()
    {
        var options = new MigrationOptions
        {
            Source = PgConnectionInfo.Parse("postgres://u@127.0.0.1:1/postgres"),
            Into = new PgRelocate.Targets.TargetOptions { Connection = PgConnectionInfo.Parse("postgres://v@127.0.0.1:2/postgres") },
            Via = "s3://bucket/moves/",
        };

        var shop = InstanceJournal.ChildOptions(options, "shop");

        Assert.Equal("s3://bucket/moves/shop.dump", shop.Via);
        Assert.Equal("s3://bucket/moves/billing.dump", InstanceJournal.ChildOptions(options with { Via = "s3://bucket/moves" }, "billing").Via);
        Assert.Equal(("shop", "shop", "shop"), (shop.Source.Database, shop.Into.Connection.Database, shop.Into.Confirm));
    }

    private static string Status(string journal) => JsonDocument.Parse(journal).RootElement.GetProperty("status").GetString()!;
}

/// <summary>--all-databases into PostgreSQL 17, where a CREATEROLE role needs membership with SET to give a role objects, over --direct.</summary>
[Trait(Tier.Name, Tier.Long)]
public class InstancePg17Tests(PgServer source, Pg17Server target) : IClassFixture<PgServer>, IClassFixture<Pg17Server>
{
    [Fact]
    public async Task All_Databases_With_Roles_Moves_Every_Database_The_Login_Role_May_Connect_To()
    {
        var (a, b, login) = await InstanceSource.CreateAsync(source, "a17");
        var into = await RoleSource.CreateRoleTargetAsync(target);
        await source.ExecuteAsync("postgres", "CREATE DATABASE not_mine; REVOKE CONNECT ON DATABASE not_mine FROM PUBLIC");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync("migrate", "--all-databases", "--roles", "--direct", "--source", CliRunner.Url(login), "--target", CliRunner.Url(into), "--workdir", dir.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        var parent = MigrationJournal.Load(dir.Path, InstanceSource.Parent(dir.Path));
        // postgres, empty on the source, is not moved; a database the login role may not connect to is not either.
        Assert.Equal(new[] { a.Db.Database, b.Db.Database }.Order(StringComparer.Ordinal), InstanceJournal.Databases(parent));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(into, "SELECT count(*) FROM pg_database WHERE datname = 'not_mine'"));
        foreach (var db in new[] { a, b })
        {
            var copy = into.WithDatabase(db.Db.Database);
            await DatabaseSnapshot.AssertSameOwnersAndPrivilegesAsync(login.WithDatabase(db.Db.Database), copy);
            await DatabaseSnapshot.AssertSameAsync(db.Db, copy);
            var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(db.Db), "--target", CliRunner.Url(copy));
            Assert.True(verify.ExitCode == 0, verify.ToString());
        }

        // The roles were created once, by the parent; each database's own roles step found them.
        var roles = parent.Step(InstanceJournal.RolesStep).Tables.Single();
        Assert.Contains(roles.Rows, r => r[0] == a.Writer && r[1] == "created");
        Assert.Contains(roles.Rows, r => r[0] == b.Writer && r[1] == "created");
    }
}

/// <summary>Two databases of the four-role source (<see cref="RoleSource"/>) and a login role that is a member of both owners, as a DBA's.</summary>
internal static class InstanceSource
{
    public static async Task<(RoleSource A, RoleSource B, PgConnectionInfo Login)> CreateAsync(PgServer server, string suffix)
    {
        var a = await RoleSource.CreateAsync(server, suffix + "a");
        var b = await RoleSource.CreateAsync(server, suffix + "b");
        var name = "dba_" + suffix + "_" + Guid.NewGuid().ToString("N")[..4];
        var password = Guid.NewGuid().ToString("N");
        Secrets.Register(password);
        await server.ExecuteAsync("postgres", $"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE {Db.Ident(a.Db.User)}, {Db.Ident(b.Db.User)}");
        return (a, b, a.Db.WithCredentials(name, password));
    }

    /// <summary>The id of the one parent migration in the work folder.</summary>
    public static string Parent(string workDir) =>
        MigrationJournal.All(workDir).Single(InstanceJournal.IsParent).Id;
}
