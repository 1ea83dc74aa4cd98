using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Harness.Servers;

namespace PgRelocate.Tests.Connections;

/// <summary>How far a server is (<see cref="RoundTrip"/>): over scripted round trips, and through a proxy that delays a real server.</summary>
public class RoundTripTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Go_On_Past_Three_Late_Answers_And_Take_The_Near_Ones()
    {
        // A busy machine's own server: its first three answers late, then on time.
        var (measured, samples) = await MeasureAsync(5, 5, 5, 0.3, 0.2);

        Assert.Equal(0.3, measured.TotalMilliseconds, 3);
        Assert.Equal(4, samples);
    }

    [Fact]
    public async Task Should_Stop_At_Three_When_One_Of_Them_Is_Near()
    {
        var (measured, samples) = await MeasureAsync(0.4, 3, 0.2, 0.1);

        Assert.Equal(0.2, measured.TotalMilliseconds, 3);
        Assert.Equal(3, samples);
    }

    [Fact]
    public async Task Should_Take_A_Server_Whose_Every_Answer_Is_Late_For_A_Far_One_After_Ten_At_Most()
    {
        var (measured, samples) = await MeasureAsync([.. Enumerable.Repeat(2.0, 20)]);

        Assert.True(measured >= RoundTrip.Far);
        Assert.Equal(10, samples);
    }

    [Fact]
    public async Task Should_Take_A_Real_Server_Behind_Two_Milliseconds_For_A_Far_One()
    {
        var db = await server.CreateDatabaseAsync("roundtrip");
        await using var proxy = new DelayingProxy(db.Port, TimeSpan.FromMilliseconds(1));
        var through = PgConnectionInfo.Parse(proxy.UrlOf(db));
        await using var conn = await Db.OpenAsync(through, "source", CancellationToken.None);

        var measured = await RoundTrip.MeasureAsync(conn, CancellationToken.None);

        Assert.True(measured >= RoundTrip.Far, $"measured {measured.TotalMilliseconds} ms behind a 2 ms round trip");
    }

    /// <summary>The measure over round trips that take these many milliseconds, in turn, and how many it made.</summary>
    private static async Task<(TimeSpan Measured, int Samples)> MeasureAsync(params double[] milliseconds)
    {
        var samples = 0;
        var measured = await RoundTrip.MeasureAsync(_ => Task.FromResult(TimeSpan.FromMilliseconds(milliseconds[samples++])), CancellationToken.None);
        return (measured, samples);
    }
}
