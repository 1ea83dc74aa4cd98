using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// An extension's configuration table, as PostGIS's spatial_ref_sys on a managed target: pg_dump writes its
/// rows, the target's extension was installed by the provider's superuser, and the login role may not add
/// rows to it. The restore leaves those rows out on purpose, says which and why, and finishes everything else.
/// </summary>
[Heavy(40)]
public sealed class ExtensionConfigTableTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    // A configuration table registered the way pg_extension_config_dump() does from an extension's script.
    private const string ConfigTable = """
        CREATE EXTENSION hstore;
        CREATE TABLE public.cfg (id int PRIMARY KEY, v text);
        ALTER EXTENSION hstore ADD TABLE public.cfg;
        UPDATE pg_extension SET extconfig = array_append(extconfig, 'public.cfg'::regclass::oid), extcondition = array_append(extcondition, '') WHERE extname = 'hstore';
        """;

    private async Task<PgConnectionInfo> SourceAsync()
    {
        var source = await servers.Source.CreateDatabaseAsync("extcfg");
        await servers.Source.ExecuteAsync(source.Database, ConfigTable + $"INSERT INTO public.cfg VALUES (1, 'added on the source'); GRANT SELECT ON public.cfg TO {Db.Ident(source.User!)};");
        await PgServer.ExecuteAsync(source, """
            CREATE TABLE parent (id int PRIMARY KEY);
            CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent (id), tags hstore);
            CREATE INDEX child_parent ON child (parent);
            INSERT INTO parent SELECT generate_series(1, 1000);
            INSERT INTO child SELECT g, g, hstore('n', g::text) FROM generate_series(1, 1000) g;
            """);
        return source;
    }

    private async Task<PgConnectionInfo> TargetAsync()
    {
        var target = await servers.Target.CreateDatabaseAsync("extcfg_target");
        await servers.Target.ExecuteAsync(target.Database, ConfigTable);
        return target;
    }

    private async Task AssertRestoredWithoutTheConfigRowsAsync(PgConnectionInfo target)
    {
        Assert.Equal(1000L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM child WHERE tags ? 'n'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(servers.Target.Cluster.Superuser(target.Database), "SELECT count(*) FROM cfg"));
        // Post-data ran: the keys, the foreign key and the index are all there.
        Assert.Equal(3L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_constraint WHERE conrelid IN ('parent'::regclass, 'child'::regclass)"));
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_indexes WHERE indexname = 'child_parent'"));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    public async Task Should_Leave_Out_The_Rows_Of_A_Configuration_Table_The_Login_Role_May_Not_Write_And_Say_So(string jobs)
    {
        var source = await SourceAsync();
        var target = await TargetAsync();
        using var dir = new TempDir();

        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", jobs);

        Assert.True(dump.ExitCode == 0, dump.ToString());
        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.Contains("Completed with", restore.Stdout, StringComparison.Ordinal);
        Assert.Contains("TABLE DATA public.cfg", restore.Stdout, StringComparison.Ordinal);
        Assert.Contains("configuration table of extension hstore", restore.Stdout, StringComparison.Ordinal);
        await AssertRestoredWithoutTheConfigRowsAsync(target);
    }

    [Fact]
    public async Task Should_Restore_The_Rows_Of_A_Configuration_Table_The_Login_Role_May_Write()
    {
        var source = await SourceAsync();
        var target = await TargetAsync();
        await servers.Target.ExecuteAsync(target.Database, $"GRANT SELECT, INSERT ON public.cfg TO {Db.Ident(target.User!)}");
        using var dir = new TempDir();

        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.DoesNotContain("TABLE DATA public.cfg", restore.Stdout, StringComparison.Ordinal);
        Assert.Equal("added on the source", await PgServer.ScalarAsync<string>(target, "SELECT v FROM cfg WHERE id = 1"));
    }

    [Fact]
    public async Task Should_Run_Post_Data_After_Leaving_Out_A_Configuration_Table_While_Dumping()
    {
        var source = await SourceAsync();
        var target = await TargetAsync();
        using var dir = new TempDir();

        var result = await CliRunner.RunAsync(["migrate", "-s", CliRunner.Url(source), "-t", CliRunner.Url(target), "--confirm", target.Database, "--workdir", dir.Path, "--jobs", "2"], null);

        Assert.True(result.ExitCode == 0, result.ToString());
        var journal = MigrationJournal.All(dir.Path).Single();
        Assert.StartsWith("Completed with", journal.Steps.Single(s => s.Name == "restore").Summary, StringComparison.Ordinal);
        await AssertRestoredWithoutTheConfigRowsAsync(target);
    }
}
