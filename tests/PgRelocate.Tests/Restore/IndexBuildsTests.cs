using PgRelocate.Connections;
using PgRelocate.Restore;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>Which of pg_dump's index statements build a GIN index over jsonb, read from the statement and the target's columns.</summary>
public sealed class IndexBuildsTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Theory]
    [InlineData("CREATE INDEX e ON public.events USING gin (payload);", "public.events", "payload", null)]
    [InlineData("CREATE INDEX e ON ONLY public.events USING gin (payload jsonb_path_ops);", "public.events", "payload", "jsonb_path_ops")]
    [InlineData("CREATE INDEX \"Odd\" ON \"My Schema\".\"My \"\"T\"\"\" USING gin (\"Pay Load\");", "\"My Schema\".\"My \"\"T\"\"\"", "Pay Load", null)]
    public void Should_Read_The_Table_Column_And_Operator_Class_Of_A_One_Column_Gin_Index(string sql, string table, string column, string? opclass)
    {
        Assert.Equal((table, column, opclass), IndexBuilds.Parse(sql));
    }

    [Theory]
    [InlineData("CREATE INDEX k ON public.events USING btree (kind, at);")]
    [InlineData("CREATE INDEX t ON public.docs USING gin (body public.gin_trgm_ops);")]
    [InlineData("CREATE INDEX x ON public.docs USING gin (((data -> 'tags'::text)));")]
    [InlineData("CREATE INDEX m ON public.docs USING gin (a, b);")]
    public void Should_Leave_Other_Statements_Alone(string sql)
    {
        Assert.Null(IndexBuilds.Parse(sql));
    }

    [Fact]
    public async Task Should_Tell_Gin_Over_Jsonb_From_Gin_Over_Other_Types_By_The_Targets_Columns()
    {
        var db = await servers.Target.CreateDatabaseAsync("gin_columns");
        await PgServer.ExecuteAsync(db, """
            CREATE SCHEMA "My Schema";
            CREATE TABLE "My Schema"."Docs" ("Body" jsonb, tags text[], plain jsonb);
            """);
        await using var conn = await Db.OpenAsync(db, "target", CancellationToken.None);

        Assert.True(await IndexBuilds.IsOverJsonbAsync(conn, "CREATE INDEX a ON \"My Schema\".\"Docs\" USING gin (\"Body\");", CancellationToken.None));
        Assert.True(await IndexBuilds.IsOverJsonbAsync(conn, "CREATE INDEX b ON \"My Schema\".\"Docs\" USING gin (plain jsonb_path_ops);", CancellationToken.None));
        Assert.False(await IndexBuilds.IsOverJsonbAsync(conn, "CREATE INDEX c ON \"My Schema\".\"Docs\" USING gin (tags);", CancellationToken.None));
        Assert.False(await IndexBuilds.IsOverJsonbAsync(conn, "CREATE INDEX d ON public.missing USING gin (plain);", CancellationToken.None));
    }
}
