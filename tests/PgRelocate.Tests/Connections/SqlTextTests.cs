using PgRelocate.Connections;

namespace PgRelocate.Tests.Connections;

public class SqlTextTests
{
    [Fact]
    public void Should_Split_Statements_Outside_Quotes_Comments_And_Dollar_Quotes()
    {
        var script = """
            SELECT 'a;b' AS x; -- a comment; with a semicolon
            SELECT $$ ; $$, "odd;name" FROM t;
            /* block; comment */ SELECT 3
            ;;
            """;

        var statements = SqlText.Split(script);

        Assert.Equal(3, statements.Count);
        Assert.Equal("SELECT 'a;b' AS x", statements[0]);
        Assert.StartsWith("-- a comment", statements[1], StringComparison.Ordinal);
        Assert.EndsWith("SELECT 3", statements[2], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SELECT * FROM t ORDER BY id", true)]
    [InlineData("select * from t order\n  by id limit 3", true)]
    [InlineData("SELECT * FROM (SELECT * FROM t ORDER BY id) s", false)]
    [InlineData("SELECT array_agg(x ORDER BY x) FROM t", false)]
    [InlineData("SELECT 'ORDER BY' FROM t", false)]
    [InlineData("SELECT * FROM t -- ORDER BY id", false)]
    [InlineData("SELECT order_by FROM t", false)]
    public void Should_See_Only_A_Top_Level_Order_By(string query, bool ordered) =>
        Assert.Equal(ordered, SqlText.HasTopLevelOrderBy(query));
}
