using System.Diagnostics;
using Npgsql;

namespace PgRelocate.Connections;

/// <summary>
/// How far a server is: the time a statement that does nothing takes to go there and back. Where it is near (the
/// same machine or zone), a copy's many small statements are limited by the servers' cores; where it is far (another
/// zone or region, a millisecond or more away), they mostly wait on the network, and more of them at once go faster.
/// </summary>
public static class RoundTrip
{
    /// <summary>From this round trip on, a server is far: a small table's copy (three round trips) then waits longer than its work takes.</summary>
    public static readonly TimeSpan Far = TimeSpan.FromMilliseconds(1);

    /// <summary>The shortest of three round trips on an open session: the network's part, without a busy moment's.</summary>
    public static async Task<TimeSpan> MeasureAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var shortest = TimeSpan.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await Db.ExecuteAsync(conn, "SELECT", cancellationToken);
            var took = Stopwatch.GetElapsedTime(started);
            shortest = took < shortest ? took : shortest;
        }

        return shortest;
    }
}
