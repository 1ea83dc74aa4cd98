using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// migrate --online --databases a,b: two databases of one source server (names with a space and capitals) moved
/// into a target server whose login role has CREATEDB, each with its own slot and publication, copied one after
/// the other while an application writes to both, following together and switched by one 'cutover PARENT'.
/// Each database is then compared independently (catalogs, rows and pg_dump --schema-only) and by verify. A
/// kill -9 at the end of the second database's copy, then --resume with --cutover auto: the first database's copy
/// is not redone, the changes written while no process ran arrive, and both switch together.
/// </summary>
[Heavy(230)]
public class OnlineInstanceTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private const string Writes = """INSERT INTO "Orders" (customer, total) VALUES ('w', 1); UPDATE "Ledger.v2".entries SET note = md5(random()::text) WHERE id = 1 + (random() * 499)::int""";

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Two_Databases_Follow_Side_By_Side_And_Switch_On_One_Cutover()
    {
        var (login, a, b) = await SourceAsync("m");
        var target = await TargetAsync();
        using var dir = new TempDir();
        var run = CliRunner.RunAsync(Args(login, target, dir.Path, a, b), null, TimeSpan.FromMinutes(6));
        await using var writerA = ApplicationWriter.Start(login.WithDatabase(a), Writes);
        await using var writerB = ApplicationWriter.Start(login.WithDatabase(b), Writes);

        var (parent, children) = await WaitForFollowAsync(dir.Path, run, 2);
        await WaitAsync(run, () => children.All(c => OnlineStatus.Read(c.Folder) is { Changes: > 100 } && c.Reload().Log.Any(l => l.Contains("Verified while following", StringComparison.Ordinal))), "both databases verified while following, with 100 changes each");
        var status = await CliRunner.RunAsync("status", parent, "--once", "--workdir", dir.Path);
        Assert.Contains($"database {a}: ", status.Stdout, StringComparison.Ordinal);
        Assert.Contains($"database {b}: ", status.Stdout, StringComparison.Ordinal);
        var one = await CliRunner.RunAsync("cutover", children[0].Id, "--workdir", dir.Path);
        Assert.True(one.ExitCode == 2, one.ToString());
        Assert.Contains($"'pgrelocate cutover {parent}'", one.Output, StringComparison.Ordinal);

        var cutover = await CliRunner.RunAsync(["cutover", parent, "--workdir", dir.Path], null, Patience);
        var result = await run;
        await writerA.StopAsync();
        await writerB.StopAsync();

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(cutover.ExitCode == 0, cutover.ToString());
        Assert.Contains($"{a} (migration {parent}-1) switched: writes were refused for", cutover.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{b} (migration {parent}-2) switched: writes were refused for", cutover.Stdout, StringComparison.Ordinal);
        Assert.True(writerA.Writes > 100 && writerB.Writes > 100, $"{writerA.Writes} and {writerB.Writes} writes while following");
        await AssertMovedAsync(login, target, a, b);
        Assert.Equal(MigrationStatus.Completed, MigrationJournal.Load(dir.Path, parent).Status);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task A_Kill_At_The_End_Of_The_Second_Copy_Resumes_Without_Copying_The_First_Again_And_Switches_Both_Automatically()
    {
        var (login, a, b) = await SourceAsync("k");
        var target = await TargetAsync();
        using var dir = new TempDir();
        await using var writerA = ApplicationWriter.Start(login.WithDatabase(a), Writes);
        await using var writerB = ApplicationWriter.Start(login.WithDatabase(b), Writes);

        var killed = await CliRunner.RunAsync(Args(login, target, dir.Path, a, b, "--cutover", "auto"), new Dictionary<string, string> { [FaultInjection.Variable] = $"kill:{b}/snapshot copy:end" }, TimeSpan.FromMinutes(6));

        Assert.True(killed.ExitCode != 0, killed.ToString());
        var parent = MigrationJournal.All(dir.Path).Single(InstanceJournal.IsParent).Id;
        var first = MigrationJournal.Load(dir.Path, parent + "-1");
        Assert.True(first.Step("follow").Status == StepStatus.Running, killed.ToString());
        var copiedAt = first.Step("snapshot copy").StartedAt;
        // Both slots outlive the process, and keep what the application writes while none runs.
        Assert.Equal(2L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));
        var before = writerA.Writes;
        await WaitAsync(null, () => writerA.Writes > before + 50, "50 writes while no process runs");

        var resumed = await CliRunner.RunAsync(["migrate", "--resume", parent, "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path], null, TimeSpan.FromMinutes(6));
        await writerA.StopAsync();
        await writerB.StopAsync();

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("snapshot copy: done in a previous run", resumed.Output, StringComparison.Ordinal);
        Assert.Equal(copiedAt, MigrationJournal.Load(dir.Path, parent + "-1").Step("snapshot copy").StartedAt);
        Assert.Contains("Every database caught up", string.Join("\n", MigrationJournal.Load(dir.Path, parent).Log), StringComparison.Ordinal);
        await AssertMovedAsync(login, target, a, b);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Cancel_Of_A_Killed_Parent_Removes_Every_Database_Slot_And_The_Tool_Schema_On_The_Target()
    {
        var (login, a, b) = await SourceAsync("c");
        var target = await TargetAsync();
        using var dir = new TempDir();
        var killed = await CliRunner.RunAsync(Args(login, target, dir.Path, a, b), new Dictionary<string, string> { [FaultInjection.Variable] = $"kill:{b}/snapshot copy:end" }, TimeSpan.FromMinutes(6));
        Assert.True(killed.ExitCode != 0, killed.ToString());
        var parent = MigrationJournal.All(dir.Path).Single(InstanceJournal.IsParent).Id;
        Assert.Equal(2L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));

        var cancel = await CliRunner.RunAsync("cancel", parent, "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", dir.Path);

        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));
        foreach (var database in new[] { a, b })
        {
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(login.WithDatabase(database), "SELECT count(*) FROM pg_publication"));
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(target.WithDatabase(database), $"SELECT count(*) FROM pg_namespace WHERE nspname = '{OnlineNames.TargetSchema}'"));
            Assert.Equal("off", await PgServer.ScalarAsync<string>(login.WithDatabase(database), "SHOW default_transaction_read_only"));
        }

        Assert.Equal(MigrationStatus.Canceled, MigrationJournal.Load(dir.Path, parent).Status);
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task With_Roles_Two_Databases_Of_Four_Roles_Move_Online_Into_A_CreateRole_Target_And_Keep_Owners_And_Grants()
    {
        var (ra, rb, login) = await Migration.InstanceSource.CreateAsync(servers.Source, "oir");
        // Online, the login role publishes every table of both databases: it needs REPLICATION and every owner's rights.
        await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(login.User)} REPLICATION; GRANT {ra.Writer}, {ra.Roles[3]}, {rb.Writer}, {rb.Roles[3]} TO {Db.Ident(login.User)}");
        var target = await Migration.RoleSource.CreateRoleTargetAsync(servers.Target);
        var (a, b) = (ra.Db.Database, rb.Db.Database);
        using var dir = new TempDir();
        await using var writer = ApplicationWriter.Start(login.WithDatabase(a), "INSERT INTO shop.orders (customer, total, secret) VALUES ('w', 1, 'x')");

        var result = await CliRunner.RunAsync(Args(login, target, dir.Path, a, b, "--roles", "--replica-identity-full", "--cutover", "auto"), null, TimeSpan.FromMinutes(6));
        await writer.StopAsync();

        Assert.True(result.ExitCode == 0, result.ToString());
        var parent = MigrationJournal.All(dir.Path).Single(InstanceJournal.IsParent);
        Assert.Equal(StepStatus.Done, parent.Step("roles").Status);
        foreach (var db in new[] { ra, rb })
        {
            var (from, into) = (login.WithDatabase(db.Db.Database), target.WithDatabase(db.Db.Database));
            await DatabaseSnapshot.AssertSameOwnersAndPrivilegesAsync(from, into);
            await DatabaseSnapshot.AssertSameAsync(db.Db, into);
            var verify = await CliRunner.RunAsync("verify", "--roles", "--source", CliRunner.Url(from), "--target", CliRunner.Url(into));
            Assert.True(verify.ExitCode == 0, verify.ToString());
            // --replica-identity-full is undone on the source once switched.
            Assert.Equal("d", await PgServer.ScalarAsync<string>(from, "SELECT relreplident::text FROM pg_class WHERE oid = 'shop.notes'::regclass"));
        }

        Assert.True(writer.Writes > 0, "no write while following");
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));
    }

    /// <summary>
    /// The databases follow at once: a target role allowed one database's follow but not two is refused before
    /// anything changes, naming the count of both, though each database's own online check passes alone.
    /// </summary>
    [Fact]
    public async Task Two_Databases_Are_Refused_Before_Anything_When_The_Target_Allows_One_Follow_But_Not_Two()
    {
        var (login, a, b) = await SourceAsync("cl");
        var target = await TargetAsync();
        var each = PgRelocate.Online.Follow.OnlineSessions.OnTarget(2, login, target).Needed;
        using var dir = new TempDir();
        await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} CONNECTION LIMIT {each + 4}");
        CliResult result;
        try
        {
            result = await CliRunner.RunAsync(Args(login, target, dir.Path, a, b, "--no-estimate"), null, TimeSpan.FromMinutes(2));
        }
        finally
        {
            await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} CONNECTION LIMIT -1");
        }

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains($"the 2 databases follow their source at once, each opening up to {each} sessions on the target, {2 * each} in all", result.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Target.Cluster.Superuser("postgres"), $"SELECT count(*) FROM pg_database WHERE datname IN ({Db.Literal(a)}, {Db.Literal(b)})"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));
    }

    private static string[] Args(PgConnectionInfo login, PgConnectionInfo target, string workDir, string a, string b, params string[] more) =>
        ["migrate", "--online", "--databases", $"{a},{b}", "--source", CliRunner.Url(login), "--target", CliRunner.Url(target), "--workdir", workDir, .. more];

    /// <summary>Two databases owned by one login role with REPLICATION, each with a table of a capitalised name and one in a schema with a dot.</summary>
    private async Task<(PgConnectionInfo Login, string A, string B)> SourceAsync(string suffix)
    {
        var owner = $"oi_{suffix}_{Guid.NewGuid().ToString("N")[..6]}";
        var a = (await servers.Source.CreateDatabaseAsync("oi shop", owner)).Database;
        // The second database sets the role a new password: the connection returned last is the one that works.
        var login = await servers.Source.CreateDatabaseAsync("oi_Logs", owner);
        var b = login.Database;
        await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(owner)} REPLICATION");
        foreach (var (database, rows) in new[] { (a, 3000), (b, 1500) })
        {
            await PgServer.ExecuteAsync(login.WithDatabase(database), $"""
                CREATE TABLE "Orders" (id bigserial PRIMARY KEY, customer text NOT NULL, total numeric, at timestamptz NOT NULL DEFAULT now());
                INSERT INTO "Orders" (customer, total) SELECT 'c' || g, g FROM generate_series(1, {rows}) g;
                CREATE SCHEMA "Ledger.v2";
                CREATE TABLE "Ledger.v2".entries (id int PRIMARY KEY, note text);
                INSERT INTO "Ledger.v2".entries SELECT g, 'n' || g FROM generate_series(1, 500) g;
                """);
        }

        return (login, a, b);
    }

    /// <summary>A target server whose login role may create databases, and is no superuser.</summary>
    private async Task<PgConnectionInfo> TargetAsync()
    {
        var target = await servers.Target.CreateDatabaseAsync("oit");
        await servers.Target.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} CREATEDB");
        return target;
    }

    /// <summary>Each database the same on both sides (catalogs, rows, pg_dump --schema-only) and by verify; no slot left; the sources read-only.</summary>
    private async Task AssertMovedAsync(PgConnectionInfo login, PgConnectionInfo target, params string[] databases)
    {
        foreach (var database in databases)
        {
            var (from, into) = (login.WithDatabase(database), target.WithDatabase(database));
            await DatabaseSnapshot.AssertSameAsync(from, into);
            Assert.Equal(await PgServer.ScalarAsync<long>(from, "SELECT count(*) FROM \"Orders\""), await PgServer.ScalarAsync<long>(into, "SELECT count(*) FROM \"Orders\""));
            var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(from), "--target", CliRunner.Url(into));
            Assert.True(verify.ExitCode == 0, verify.ToString());
            Assert.Equal("on", await PgServer.ScalarAsync<string>(from, "SHOW default_transaction_read_only"));
        }

        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser("postgres"), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgrelocate%'"));
    }

    /// <summary>Waits until the parent's <paramref name="count"/> databases all follow their source; returns the parent's id and the children.</summary>
    private static async Task<(string Parent, List<MigrationJournal> Children)> WaitForFollowAsync(string workDir, Task<CliResult> run, int count)
    {
        List<MigrationJournal> children = [];
        await WaitAsync(run, () =>
        {
            children = MigrationJournal.All(workDir).Where(j => InstanceJournal.ParentOf(j) is not null).OrderBy(j => j.Id, StringComparer.Ordinal).ToList();
            return children.Count == count && children.All(c => c.Step("follow").Status == StepStatus.Running && OnlineStatus.Read(c.Folder) is { Phase: "follow" });
        }, "every database following");
        return (InstanceJournal.ParentOf(children[0])!, children);
    }

    private static async Task WaitAsync(Task<CliResult>? run, Func<bool> done, string what)
    {
        var reached = await Eventually.Holds(async () =>
        {
            if (done())
            {
                return true;
            }

            if (run is { IsCompleted: true })
            {
                Assert.Fail($"The migration ended before {what}: {await run}");
            }

            return false;
        }, Patience, TimeSpan.FromMilliseconds(200));
        if (!reached)
        {
            Assert.Fail($"Not {what} in time{(run is { IsCompleted: true } ? ": " + await run : "")}.");
        }
    }
}
