using PgRelocate.Archives;
using PgRelocate.Restore;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// The rest of post-data goes with pg_restore's jobs only where they pay: a foreign key's check or a materialized
/// view's query reads the data, and a far server's round trips wait; partitioned indexes, their ATTACH entries and
/// triggers are catalog statements, which pg_restore's parallel start (seconds at thousands of tables) only delays.
/// </summary>
public sealed class PostDataRestTests
{
    private static ArchiveEntry E(int id, string kind, string tag) =>
        new(id, kind, "public", tag, "postgres", ArchiveSection.PostData, 0, 0, [], "", null, null, kind == "MATERIALIZED VIEW DATA", null);

    private static readonly ArchiveEntry[] Catalog =
    [
        E(1, "INDEX", "p_name_idx"),
        E(2, "CONSTRAINT", "p p_pkey"),
        E(3, "INDEX ATTACH", "p1_name_idx"),
        E(4, "INDEX ATTACH", "p1_pkey"),
        E(5, "TRIGGER", "t audit"),
    ];

    [Fact]
    public void Should_Restore_Catalog_Statements_Serially_Near()
    {
        Assert.Equal(1, PostDataRest.Jobs(Catalog, jobs: 4, far: false));
    }

    [Fact]
    public void Should_Keep_The_Jobs_For_A_Far_Server()
    {
        Assert.Equal(4, PostDataRest.Jobs(Catalog, jobs: 4, far: true));
    }

    [Fact]
    public async Task Should_Measure_The_Round_Trip_Only_Where_The_Entries_Leave_It_To_Decide()
    {
        var asked = 0;
        Task<bool> Far()
        {
            asked++;
            return Task.FromResult(true);
        }

        Assert.Equal(2, await PostDataRest.JobsAsync([.. Catalog, E(9, "FK CONSTRAINT", "t t_p_fkey")], 2, Far));
        Assert.Equal(1, await PostDataRest.JobsAsync(Catalog, 1, Far));
        Assert.Equal(0, asked);
        Assert.Equal(2, await PostDataRest.JobsAsync(Catalog, 2, Far));
        Assert.Equal(1, asked);
    }

    [Theory]
    [InlineData("FK CONSTRAINT", "t t_p_fkey")]
    [InlineData("MATERIALIZED VIEW DATA", "totals")]
    public void Should_Keep_The_Jobs_For_Work_That_Reads_The_Data(string kind, string tag)
    {
        Assert.Equal(2, PostDataRest.Jobs([.. Catalog, E(9, kind, tag)], jobs: 2, far: false));
    }
}
