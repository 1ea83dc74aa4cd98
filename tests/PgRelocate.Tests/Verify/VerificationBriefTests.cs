using PgRelocate.Verify;

namespace PgRelocate.Tests.Verify;

/// <summary>The one line a failed verification's message gives: it names what differs, the first few of each kind.</summary>
public sealed class VerificationBriefTests
{
    private static TableResult Table(string name, bool equal) => new() { Name = name, SourceRows = 3, TargetRows = equal ? 3 : 2, Equal = equal };

    private static VerificationResult Result(IReadOnlyList<TableResult> tables, IReadOnlyList<SchemaDifference> schema, IReadOnlyList<QueryResult>? queries = null) => new()
    {
        Source = "source",
        Target = "target",
        Mode = VerifyMode.Checksums,
        ObjectCounts = [],
        SchemaDifferences = schema,
        Tables = tables,
        Queries = queries ?? [],
    };

    [Fact]
    public void Should_Name_The_Differing_Table_And_Count_The_Rest()
    {
        var result = Result([Table("public.a", true), Table("public.medium", false), Table("public.c", true)], []);

        Assert.Equal("1 of 3 tables differ (public.medium), 0 schema differences", result.Brief());
    }

    [Fact]
    public void Should_Name_Three_Of_Each_Kind_And_Say_How_Many_More()
    {
        var tables = Enumerable.Range(1, 5).Select(i => Table($"s.t{i}", false)).ToList();
        var result = Result(tables, [new SchemaDifference("index", "s.t1_name", DifferenceKind.MissingOnTarget)],
            [new QueryResult { Query = "SELECT 1", Ordered = false, SourceRows = 1, TargetRows = 0, Equal = false }]);

        Assert.Equal("5 of 5 tables differ (s.t1, s.t2, s.t3 and 2 more), 1 schema difference (index s.t1_name), 1 of 1 queries differ", result.Brief());
    }
}
