using System.Text;
using System.Text.Json;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// What `migrate` and `status` (text and --json, "error" and "next") say to do after a migration that did not
/// complete, each command working pasted as printed: no resume after a first run that changed nothing, no --allow
/// that cannot lift the blocker, and a resume with its connections (passwords from the password file), its work
/// folder and --not-consistent where the interrupted copy needs it.
/// </summary>
public class NextStepTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public async Task Should_Offer_Neither_A_Resume_Nor_An_Allow_That_Cannot_Work_After_A_Refused_Run()
    {
        var source = await servers.Source.CreateDatabaseAsync("refused_src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);");
        var target = await servers.Target.CreateDatabaseAsync("refused_dst");
        await PgServer.ExecuteAsync(target, "CREATE TABLE marker (id int); INSERT INTO marker VALUES (1), (2), (3);");
        var owner = "intruder_" + Guid.NewGuid().ToString("N")[..8];
        // Another role's view on the login role's table: emptying the target would drop it, which --allow cannot make right.
        await servers.Target.ExecuteAsync(target.Database, $"CREATE ROLE {owner}; CREATE VIEW public.iv AS SELECT id FROM public.marker; ALTER VIEW public.iv OWNER TO {owner}");
        using var dir = new TempDir();
        string[] migrate = ["migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path];

        var refused = await CliRunner.RunAsync(migrate);
        var id = MigrationJournal.All(dir.Path).Single().Id;
        var allowed = await CliRunner.RunAsync([.. migrate, "--allow", "other roles' objects"]);
        var status = await CliRunner.RunAsync("status", id, "--workdir", dir.Path);
        var json = await CliRunner.RunAsync("status", id, "--json", "--workdir", dir.Path);

        Assert.True(refused.ExitCode == 3, refused.ToString());
        Assert.Contains("Preflight check 'other roles' objects' blocks the migration", Words(refused.Output), StringComparison.Ordinal);
        Assert.DoesNotContain("--allow", refused.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Resume it with", refused.Output, StringComparison.Ordinal);
        Assert.Contains("Once that is fixed, run the same 'pgrelocate migrate' command again", Words(refused.Stdout), StringComparison.Ordinal);
        Assert.True(allowed.ExitCode == 3, allowed.ToString());
        Assert.Contains("--allow \"other roles' objects\" cannot lift it", Words(allowed.Output), StringComparison.Ordinal);
        Assert.DoesNotContain("going on: --allow", allowed.Output, StringComparison.Ordinal);
        Assert.Equal(3, status.ExitCode);
        Assert.Contains($"{id}: Failed - Preflight check 'other roles' objects' blocks the migration", Words(status.Stdout), StringComparison.Ordinal);
        Assert.Contains("Once that is fixed, run the same 'pgrelocate migrate' command again", Words(status.Stdout), StringComparison.Ordinal);
        var state = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal("Failed", state.GetProperty("status").GetString());
        Assert.StartsWith("Preflight check 'other roles' objects' blocks the migration", state.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.EndsWith("Nothing was changed.", state.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("Once that is fixed, run the same 'pgrelocate migrate' command again", state.GetProperty("next").GetString(), StringComparison.Ordinal);
        // Outside our code: the target holds what it held.
        Assert.Equal(3L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM marker"));
        Assert.Equal(owner, await PgServer.ScalarAsync<string>(target, "SELECT viewowner::text FROM pg_views WHERE viewname = 'iv'"));
    }

    [Fact]
    public async Task Should_Print_A_Resume_That_Works_Pasted_After_A_Direct_Copy_Killed_Without_A_Read_Only_Source()
    {
        var source = await servers.Source.CreateDatabaseAsync("killed_src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g; CREATE INDEX t_v ON t (v);");
        var target = await servers.Target.CreateDatabaseAsync("killed_dst");
        using var dir = new TempDir();
        var killed = await CliRunner.RunAsync(
            ["migrate", "--direct", "--jobs", "1", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path],
            new Dictionary<string, string> { [FaultInjection.Variable] = $"kill:{DirectCopyStep.StepName}:rows-in" });
        Assert.NotEqual(0, killed.ExitCode);
        var id = MigrationJournal.All(dir.Path).Single().Id;

        var status = await CliRunner.RunAsync("status", id, "--workdir", dir.Path);
        var json = JsonDocument.Parse((await CliRunner.RunAsync("status", id, "--json", "--workdir", dir.Path)).Stdout).RootElement;
        var next = json.GetProperty("next").GetString()!;

        Assert.StartsWith($"Resume it with: pgrelocate migrate --resume {id} --source ", next, StringComparison.Ordinal);
        Assert.EndsWith(" --not-consistent", next, StringComparison.Ordinal);
        Assert.Contains(Words(next), Words(status.Stdout), StringComparison.Ordinal);
        Assert.DoesNotContain("***", next, StringComparison.Ordinal);
        Assert.DoesNotContain("(with the same", next, StringComparison.Ordinal);

        // Pasted as printed, its passwords from the password file as libpq finds them.
        using var home = new TempDir();
        var passFile = home.File("pgpass");
        await File.WriteAllTextAsync(passFile, source.ToPassFileLine() + "\n" + target.ToPassFileLine() + "\n", Encoding.UTF8);
        File.SetUnixFileMode(passFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var words = ShellWords(next["Resume it with: ".Length..]);
        Assert.Equal("pgrelocate", words[0]);
        var resumed = await CliRunner.RunAsync(words.Skip(1), new Dictionary<string, string> { ["PGPASSFILE"] = passFile });

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(MigrationStatus.Completed, MigrationJournal.Load(dir.Path, id).Status);
        await DatabaseSnapshot.AssertSameAsync(source, target);
    }

    private static string Words(string text) => string.Join(' ', text.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries));

    /// <summary>A command line split as a POSIX shell splits it: words separated by spaces, single quotes taken literally.</summary>
    private static List<string> ShellWords(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var (quoted, any) = (false, false);
        foreach (var c in line)
        {
            if (c == '\'')
            {
                (quoted, any) = (!quoted, true);
            }
            else if (c == ' ' && !quoted)
            {
                if (any)
                {
                    words.Add(word.ToString());
                }

                (word, any) = (new StringBuilder(), false);
            }
            else
            {
                Assert.False(!quoted && "\"\\$`&;|<>*?()".Contains(c, StringComparison.Ordinal), $"'{c}' would be read by the shell in: {line}");
                (_, any) = (word.Append(c), true);
            }
        }

        if (any)
        {
            words.Add(word.ToString());
        }

        return words;
    }
}
