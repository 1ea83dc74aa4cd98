using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Catalog;

/// <summary>
/// A target holding publications is not empty, and replacing it drops the login role's publications with the
/// rest, so the source's own publication can be made again: in every path that empties a target.
/// </summary>
[Heavy(90)]
[Trait(Tier.Name, Tier.Long)]
public class ReplacedPublicationsTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Replace_A_Target_Holding_The_Sources_Publication_In_Every_Path()
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, """
            CREATE TABLE t (id int PRIMARY KEY, v text);
            INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g;
            CREATE PUBLICATION app_pub FOR TABLE t;
            """);
        var target = await server.CreateDatabaseAsync("dst");
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        string[] confirm = ["--confirm", target.Database];

        var first = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(first.ExitCode == 0, first.ToString());
        // Only the publication is left: the target is still not empty.
        await PgServer.ExecuteAsync(target, "DROP TABLE t");
        var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(check.ExitCode == 3, check.ToString());
        Assert.Contains("publication app_pub", check.Stdout, StringComparison.Ordinal);

        var runs = new List<(string Path, string[] Args)>
        {
            ("copy", ["copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), .. confirm]),
            ("copy again", ["copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), .. confirm]),
            ("restore", ["restore", dir.File("a.dump"), "--target", CliRunner.Url(target), .. confirm]),
            ("migrate", ["migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", dir.Path, .. confirm]),
            ("migrate --direct", ["migrate", "--direct", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", dir.Path, .. confirm]),
        };
        foreach (var (path, args) in runs)
        {
            var run = await CliRunner.RunAsync(args);

            Assert.True(run.ExitCode == 0, $"{path}: {run}");
            await DatabaseSnapshot.AssertSameAsync(source, target);
            Assert.Equal("app_pub: t", await PublicationsAsync(target));
        }
    }

    /// <summary>The database's publications with the tables each lists, read from the catalogs.</summary>
    private static async Task<string?> PublicationsAsync(PgConnectionInfo db) =>
        await PgServer.ScalarAsync<string>(db, """
            SELECT string_agg(p.pubname || ': ' || coalesce((SELECT string_agg(pr.prrelid::regclass::text, ', ' ORDER BY 1)
                                                               FROM pg_publication_rel pr WHERE pr.prpubid = p.oid), ''), '; ' ORDER BY p.pubname)
            FROM pg_publication p
            """);
}
