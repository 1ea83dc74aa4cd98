using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Verify;

public class SettingsTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Find_No_Difference_When_The_Sides_Render_Dates_And_Numbers_Differently_By_Default()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await server.ExecuteAsync("postgres", $"""
            ALTER DATABASE {source.Database} SET TimeZone = 'America/New_York';
            ALTER DATABASE {source.Database} SET DateStyle = 'SQL, DMY';
            ALTER DATABASE {source.Database} SET IntervalStyle = 'iso_8601';
            ALTER DATABASE {source.Database} SET extra_float_digits = 0;
            ALTER DATABASE {source.Database} SET bytea_output = 'escape';
            ALTER DATABASE {target.Database} SET TimeZone = 'Asia/Kolkata';
            ALTER DATABASE {target.Database} SET DateStyle = 'German';
            ALTER DATABASE {target.Database} SET IntervalStyle = 'sql_standard';
            """);

        var result = await Pairs.VerifyAsync(source, target, queries: "SELECT id, ts, iv, f, b, ts::date FROM items ORDER BY id");

        Assert.False(result.HasDifferences, string.Join("; ", result.SchemaDifferences));
        Assert.True(Assert.Single(result.Queries).Equal);
    }
}
