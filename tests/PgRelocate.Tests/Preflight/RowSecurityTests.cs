using PgRelocate.Connections;
using PgRelocate.Preflight;
using PgRelocate.Preflight.Checks;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// Row-level security that applies to the source's login role: pg_dump stops at such a table ("query would be
/// affected by row-level security policy") and a plain read sees only some rows. check blocks with the fix;
/// dump, copy and migrate (every mode) refuse before they touch anything. The rows are counted by the
/// superuser, apart from our code, to show what would have been lost.
/// </summary>
[Heavy(55)]
public class RowSecurityTests(PreflightServer server) : IClassFixture<PreflightServer>
{
    /// <summary>Ten rows in each table; the policies let the login role see some of them.</summary>
    private static string TablesSql(string login, string other) => $"""
        CREATE ROLE {other};
        CREATE TABLE public.forced (id int PRIMARY KEY);
        INSERT INTO public.forced SELECT g FROM generate_series(1, 10) g;
        ALTER TABLE public.forced OWNER TO {login};
        ALTER TABLE public.forced ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.forced FORCE ROW LEVEL SECURITY;
        CREATE POLICY even ON public.forced USING (id % 2 = 0);
        CREATE TABLE public.others (id int PRIMARY KEY);
        INSERT INTO public.others SELECT g FROM generate_series(1, 10) g;
        ALTER TABLE public.others OWNER TO {other};
        GRANT SELECT ON public.others TO {login};
        ALTER TABLE public.others ENABLE ROW LEVEL SECURITY;
        CREATE POLICY few ON public.others USING (id < 3);
        CREATE TABLE public.nopolicy (id int PRIMARY KEY);
        INSERT INTO public.nopolicy SELECT g FROM generate_series(1, 10) g;
        ALTER TABLE public.nopolicy OWNER TO {other};
        GRANT SELECT ON public.nopolicy TO {login};
        ALTER TABLE public.nopolicy ENABLE ROW LEVEL SECURITY;
        CREATE TABLE public.own (id int PRIMARY KEY);
        INSERT INTO public.own SELECT g FROM generate_series(1, 10) g;
        ALTER TABLE public.own OWNER TO {login};
        ALTER TABLE public.own ENABLE ROW LEVEL SECURITY;
        CREATE POLICY none_of_them ON public.own USING (false);
        """;

    private async Task<PgConnectionInfo> SourceAsync()
    {
        var source = await server.CreateDatabaseAsync("rls");
        await server.ExecuteAsync(source.Database, TablesSql(Db.Ident(source.User), "other_" + source.Database));
        return source;
    }

    /// <summary>A target holding one table: a path that touched the target would have dropped it.</summary>
    private async Task<PgConnectionInfo> TargetAsync()
    {
        var target = await server.CreateDatabaseAsync("rls_dst");
        await PgServer.ExecuteAsync(target, "CREATE TABLE public.kept (id int)");
        return target;
    }

    private async Task<long> CountAsSuperuserAsync(PgConnectionInfo db, string table) =>
        await PgServer.ScalarAsync<long>(server.Cluster.Superuser(db.Database), $"SELECT count(*) FROM public.{table}");

    [Fact]
    public async Task Should_Block_Check_On_Tables_Row_Security_Hides_Rows_Of_And_Give_The_Fix()
    {
        var source = await SourceAsync();

        var row = await Checks.RunOneAsync(new UnreadableTablesCheck(), source);

        // What the login role would see, against what is there (counted by the superuser).
        Assert.Equal(10L, await CountAsSuperuserAsync(source, "others"));
        Assert.Equal(2L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM public.others"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM public.nopolicy"));
        Assert.Equal(5L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM public.forced"));
        Assert.Equal(CheckStatus.Block, row.Status);
        Assert.DoesNotContain($"{source.User} may read every table", row.Found, StringComparison.Ordinal);
        Assert.Contains("public.forced", row.Found, StringComparison.Ordinal);
        Assert.Contains("public.others", row.Found, StringComparison.Ordinal);
        Assert.Contains("public.nopolicy", row.Found, StringComparison.Ordinal);
        // The owner without FORCE bypasses its table's policies: every row is read.
        Assert.DoesNotContain("public.own", row.Found, StringComparison.Ordinal);
        Assert.Contains("ALTER TABLE \"public\".\"forced\" NO FORCE ROW LEVEL SECURITY", row.Next, StringComparison.Ordinal);
        Assert.Contains("BYPASSRLS", row.Next, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Pass_Check_For_The_Owner_Without_Force_And_For_A_Role_With_Bypassrls()
    {
        var owner = await server.CreateDatabaseAsync("rls_own");
        await server.ExecuteAsync(owner.Database, $"""
            CREATE TABLE public.own (id int PRIMARY KEY);
            ALTER TABLE public.own OWNER TO {Db.Ident(owner.User)};
            ALTER TABLE public.own ENABLE ROW LEVEL SECURITY;
            """);
        var bypass = await SourceAsync();
        await server.ExecuteAsync(bypass.Database, $"ALTER ROLE {Db.Ident(bypass.User)} BYPASSRLS");

        var ownerRow = await Checks.RunOneAsync(new UnreadableTablesCheck(), owner);
        var bypassRow = await Checks.RunOneAsync(new UnreadableTablesCheck(), bypass);

        Assert.True(ownerRow.Status == CheckStatus.Ok, ownerRow.Found);
        Assert.True(bypassRow.Status == CheckStatus.Ok, bypassRow.Found);
    }

    [Fact]
    public async Task Should_Refuse_Dump_Before_Writing_Anything()
    {
        var source = await SourceAsync();
        using var dir = new TempDir();
        var archive = Path.Combine(dir.Path, "app.dump");

        var result = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", archive);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("row-level security", result.Output, StringComparison.Ordinal);
        Assert.Contains("NO FORCE ROW LEVEL SECURITY", result.Output, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", result.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData("copy")]
    [InlineData("migrate")]
    [InlineData("migrate", "--direct")]
    [InlineData("migrate", "--online")]
    [InlineData("migrate", "--allow", "readable tables")]
    public async Task Should_Refuse_Copy_And_Every_Migration_Before_Touching_The_Target(string command, params string[] options)
    {
        var source = await SourceAsync();
        var target = await TargetAsync();
        using var dir = new TempDir();
        List<string> args = [command, "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, .. options];
        if (command == "migrate")
        {
            args.AddRange(["--workdir", dir.Path]);
        }

        var result = await CliRunner.RunAsync(args, null);

        // migrate refuses in its check step, with the exit code of a blocker: --allow does not override it.
        Assert.True(result.ExitCode == (command == "copy" ? 1 : 3), result.ToString());
        Assert.Contains("row-level security", result.Output, StringComparison.Ordinal);
        Assert.Contains("BYPASSRLS", result.Output, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", result.Output, StringComparison.Ordinal);
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname = 'kept'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname IN ('forced', 'others', 'nopolicy', 'own')"));
    }

    [Fact]
    public async Task Should_Copy_Every_Row_Once_The_Login_Role_Bypasses_Row_Security()
    {
        var source = await SourceAsync();
        await server.ExecuteAsync(source.Database, $"ALTER ROLE {Db.Ident(source.User)} BYPASSRLS");
        var target = await TargetAsync();

        var result = await CliRunner.RunAsync("copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var table in new[] { "forced", "others", "nopolicy", "own" })
        {
            Assert.Equal(10L, await CountAsSuperuserAsync(source, table));
            Assert.Equal(10L, await CountAsSuperuserAsync(target, table));
        }
    }
}
