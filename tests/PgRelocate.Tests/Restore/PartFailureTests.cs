using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>A part of a restore that fails is reported by name, and what it left undone is said, never skipped silently.</summary>
public sealed class PartFailureTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Fact]
    public async Task Should_Name_The_Failed_Lane_And_Say_Post_Data_Was_Not_Restored()
    {
        // The target refuses half the rows of one table (a check whose function reads a database setting).
        var source = await servers.Source.CreateDatabaseAsync("lanefail");
        await PgServer.ExecuteAsync(source, """
            CREATE FUNCTION allowed(i int) RETURNS boolean LANGUAGE sql IMMUTABLE
              AS $$ SELECT current_setting('pgrelocate_test.refuse', true) IS DISTINCT FROM 'on' OR i < 500 $$;
            CREATE TABLE refused (id int PRIMARY KEY, CHECK (allowed(id)));
            INSERT INTO refused SELECT generate_series(1, 1000);
            CREATE TABLE fine (id int PRIMARY KEY, r int REFERENCES refused (id));
            INSERT INTO fine SELECT g, g FROM generate_series(1, 100) g;
            """);
        var target = await servers.Target.CreateDatabaseAsync("lanefail_target");
        await servers.Target.ExecuteAsync("postgres", $"ALTER DATABASE {Db.Ident(target.Database)} SET pgrelocate_test.refuse = 'on'");
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(["migrate", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path, "--jobs", "2"], null);

        Assert.True(result.ExitCode == 1, result.ToString());
        var restore = MigrationJournal.All(dir.Path).Single().Steps.Single(s => s.Name == "restore");
        var rows = restore.Tables.SelectMany(t => t.Rows).ToList();
        Assert.Contains(rows, r => r[0].StartsWith("lane ", StringComparison.Ordinal) && r[1].StartsWith("pg_restore failed on the lane", StringComparison.Ordinal) && r[2] == "error");
        Assert.Contains(rows, r => r[0] == "post-data" && r[1].StartsWith("not restored: ", StringComparison.Ordinal));
        Assert.Contains("refused", string.Join("\n", rows.Select(r => r[1])), StringComparison.Ordinal);
    }
}
