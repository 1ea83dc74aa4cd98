using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// A row-level security policy naming a role the target lacks would fail the restore of that policy: every path
/// refuses it as `check` does (exit 3), before the target is emptied, and says the two ways out.
/// </summary>
[Heavy(60)]
public class PolicyRolesBeforeEmptyingTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Refuse_A_Policy_Role_The_Target_Lacks_In_Every_Path_Before_Emptying()
    {
        var role = "pr_auditor_" + Guid.NewGuid().ToString("N")[..6];
        await servers.Source.ExecuteAsync("postgres", $"CREATE ROLE {role} NOLOGIN");
        var source = await servers.Source.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, $"""
            CREATE TABLE t (id int PRIMARY KEY);
            INSERT INTO t SELECT generate_series(1, 20);
            ALTER TABLE t ENABLE ROW LEVEL SECURITY;
            CREATE POLICY audit ON t FOR SELECT TO {role} USING (true);
            """);
        var target = await servers.Target.CreateDatabaseAsync("dst");
        await PgServer.ExecuteAsync(target, "CREATE TABLE marker (id int); INSERT INTO marker VALUES (1), (2)");
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        string[] into = ["--target", CliRunner.Url(target), "--confirm", target.Database];

        var check = await CliRunner.RunAsync(["check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target)], null);
        var runs = new List<(string Path, CliResult Result)>
        {
            ("restore", await CliRunner.RunAsync(["restore", dir.File("a.dump"), .. into], null)),
            ("restore --jobs 2", await CliRunner.RunAsync(["restore", dir.File("a.dump"), "--jobs", "2", .. into], null)),
            ("copy", await CliRunner.RunAsync(["copy", "--source", CliRunner.Url(source), .. into], null)),
            ("migrate", await CliRunner.RunAsync(["migrate", "--source", CliRunner.Url(source), "--workdir", dir.Path, .. into], null)),
            ("migrate --direct", await CliRunner.RunAsync(["migrate", "--direct", "--source", CliRunner.Url(source), "--workdir", dir.Path, .. into], null)),
        };
        var markerRows = await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM marker");

        Assert.True(check.ExitCode == 3, check.ToString());
        Assert.Contains($"policy audit on public.t to {role}", check.Stdout, StringComparison.Ordinal);
        foreach (var (path, run) in runs)
        {
            Assert.True(run.ExitCode == 3, $"{path}: {run}");
            Assert.True(run.Output.Contains($"policy audit on public.t to {role}", StringComparison.Ordinal), $"{path}: {run}");
            Assert.True(run.Output.Contains($"CREATE ROLE \"{role}\" NOLOGIN", StringComparison.Ordinal), $"{path}: {run}");
            Assert.True(run.Output.Contains("--roles", StringComparison.Ordinal), $"{path}: {run}");
        }

        Assert.Equal(2, markerRows);

        // The way out without --roles: the role made on the target, the same restore goes through.
        await servers.Target.ExecuteAsync("postgres", $"CREATE ROLE {role} NOLOGIN");
        var restored = await CliRunner.RunAsync(["restore", dir.File("a.dump"), .. into], null);
        Assert.True(restored.ExitCode == 0, restored.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }
}
