using PgRelocate.Connections;
using PgRelocate.Preflight;
using PgRelocate.Preflight.Checks;
using PgRelocate.Tests.Catalog;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary>The checks that read the catalog vocabulary: aggregates, unreadable tables, extensions and provider targets.</summary>
public class CatalogChecksTests(PreflightServer server) : IClassFixture<PreflightServer>
{
    [Fact]
    public async Task Should_Not_Call_A_User_Defined_Aggregate_A_Superuser_Only_Object()
    {
        var source = await server.CreateDatabaseAsync("src");
        var target = await server.CreateDatabaseAsync("dst");
        await PgServer.ExecuteAsync(source, "CREATE AGGREGATE public.total(int) (sfunc = int4pl, stype = int)");

        var rows = await Checks.RunAsync(new OwnershipCheck(), source, target);

        Assert.Equal(CheckStatus.Ok, Checks.Row(rows, "superuser-only objects").Status);
    }

    [Fact]
    public async Task Should_Block_On_Tables_The_Login_Role_Cannot_Read_And_Give_The_Grant()
    {
        var source = await server.CreateDatabaseAsync("src");
        var owner = "payroll_" + source.Database;
        await server.ExecuteAsync(source.Database, $"""
            CREATE ROLE {owner};
            CREATE TABLE public.salaries (id int PRIMARY KEY);
            ALTER TABLE public.salaries OWNER TO {owner};
            CREATE TABLE public.visible (id int);
            ALTER TABLE public.visible OWNER TO {Db.Ident(source.User)};
            """);

        var row = await Checks.RunOneAsync(new UnreadableTablesCheck(), source);

        Assert.Equal(CheckStatus.Block, row.Status);
        Assert.Contains("table public.salaries", row.Found, StringComparison.Ordinal);
        Assert.DoesNotContain("visible", row.Found, StringComparison.Ordinal);
        Assert.Contains($"GRANT SELECT ON \"public\".\"salaries\" TO {Db.Ident(source.User)};", row.Next, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Block_On_An_Extension_Only_A_Superuser_May_Create_On_The_Target()
    {
        var source = await server.CreateDatabaseAsync("src");
        await server.ExecuteAsync(source.Database, "CREATE EXTENSION pageinspect; CREATE EXTENSION hstore");
        var target = await ProviderTargets.CreateAsync(server);

        var row = await Checks.RunOneAsync(new ExtensionsCheck(), source, target);

        Assert.Equal(CheckStatus.Block, row.Status);
        Assert.Contains("only a superuser may create on the target: pageinspect", row.Found, StringComparison.Ordinal);
        Assert.Contains($"CREATE EXTENSION pageinspect in database {target.Database}", row.Next, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Call_A_Provider_Target_Empty_And_Report_Its_Lock_Table_Slots_Writes_And_Migrations()
    {
        var source = await server.CreateDatabaseAsync("src");
        var target = await ProviderTargets.CreateAsync(server);

        var rows = await Checks.RunAsync(new TargetEmptyCheck(), source, target);

        Assert.Equal(["target empty", "lock table", "connection slots", "target writable", "other migrations"], rows.Select(r => r.Check));
        Assert.All(rows, r => Assert.True(r.Status == CheckStatus.Ok, $"{r.Check}: {r.Found}"));
    }
}
