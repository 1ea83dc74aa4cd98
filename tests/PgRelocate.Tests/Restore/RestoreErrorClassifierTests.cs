using PgRelocate.Restore;
using PgRelocate.Runners;

namespace PgRelocate.Tests.Restore;

public class RestoreErrorClassifierTests
{
    private static IReadOnlyList<RestoreIssue> Classify(string stderr)
    {
        var classifier = new RestoreErrorClassifier();
        foreach (var line in stderr.Split('\n'))
        {
            classifier.OnLine(line);
        }

        return classifier.Issues;
    }

    [Fact]
    public void Should_Call_A_Comment_On_An_Extension_Harmless()
    {
        var issues = Classify("""
            pg_restore: creating COMMENT "EXTENSION plpgsql"
            pg_restore: while PROCESSING TOC:
            pg_restore: from TOC entry 4316; 0 0 COMMENT EXTENSION plpgsql 
            pg_restore: error: could not execute query: ERROR:  must be owner of extension plpgsql
            Command was: COMMENT ON EXTENSION plpgsql IS 'PL/pgSQL procedural language';
            pg_restore: warning: errors ignored on restore: 1
            """);

        var issue = Assert.Single(issues);
        Assert.True(issue.IsHarmless);
        Assert.Equal("COMMENT EXTENSION plpgsql", issue.Entry);
        Assert.Equal("ERROR:  must be owner of extension plpgsql", issue.Message);
    }

    [Theory]
    [InlineData("ERROR:  extension \"postgis\" does not exist", "COMMENT ON EXTENSION postgis IS 'PostGIS geometry and geography spatial types and functions';")]
    [InlineData("ERROR:  permission denied for schema public", "COMMENT ON EXTENSION hstore IS 'data type for storing sets of (key, value) pairs';")]
    [InlineData("ERROR:  syntax error at or near \"IS\"", "COMMENT ON EXTENSION IS 'x';")]
    public void Should_Not_Call_A_Comment_On_An_Extension_Harmless_When_The_Cause_Is_Not_The_Owner(string message, string command)
    {
        var issues = Classify($"""
            pg_restore: from TOC entry 4316; 0 0 COMMENT EXTENSION postgis 
            pg_restore: error: could not execute query: {message}
            Command was: {command}
            pg_restore: warning: errors ignored on restore: 1
            """);

        var issue = Assert.Single(issues);
        Assert.False(issue.IsHarmless, issue.ToString());
        Assert.Equal(message, issue.Message);
    }

    [Fact]
    public void Should_Call_A_Comment_On_Any_Extension_Harmless_When_Only_The_Owner_May_Comment()
    {
        Assert.NotNull(RestoreErrorClassifier.Harmless("ERROR:  must be owner of extension postgis", "COMMENT ON EXTENSION postgis IS 'PostGIS';"));
        Assert.Null(RestoreErrorClassifier.Harmless("ERROR:  extension \"postgis\" does not exist", "COMMENT ON EXTENSION postgis IS 'PostGIS';"));
    }

    [Fact]
    public void Should_Fail_On_Anything_Else_And_Keep_Each_Error_Separate()
    {
        var issues = Classify("""
            pg_restore: from TOC entry 215; 1259 16390 TABLE public.t app
            pg_restore: error: could not execute query: ERROR:  type "public.missing_type" does not exist
            Command was: CREATE TABLE public.t (x public.missing_type);
            pg_restore: from TOC entry 3350; 0 16390 TABLE DATA public.t app
            pg_restore: error: could not execute query: ERROR:  relation "public.t" does not exist
            Command was: COPY public.t (x) FROM stdin;
            pg_restore: warning: errors ignored on restore: 2
            """);

        Assert.Equal(2, issues.Count);
        Assert.All(issues, i => Assert.False(i.IsHarmless));
        Assert.Equal("TABLE public.t app", issues[0].Entry);
        Assert.StartsWith("COPY public.t", issues[1].Command, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_Count_A_Connection_Failure_As_An_Error()
    {
        var issues = Classify("pg_restore: error: connection to server at \"127.0.0.1\", port 1 failed: Connection refused");

        Assert.False(Assert.Single(issues).IsHarmless);
    }
}
