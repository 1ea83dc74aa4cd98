using System.Diagnostics;
using Npgsql;

namespace PgRelocate.Connections;

/// <summary>
/// How far a server is: the time a statement that does nothing takes to go there and back. Where it is near (the
/// same machine or zone), a copy's many small statements are limited by the servers' cores; where it is far (another
/// zone or region, a millisecond or more away), they mostly wait on the network, and more of them at once go faster.
/// </summary>
internal static class RoundTrip
{
    /// <summary>From this round trip on, a server is far: a small table's copy (three round trips) then waits longer than its work takes.</summary>
    public static readonly TimeSpan Far = TimeSpan.FromMilliseconds(1);

    /// <summary>How long the measure goes on looking for a round trip shorter than <see cref="Far"/>.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMilliseconds(25);

    /// <summary>
    /// The shortest of at least three round trips on an open session: the network's part, without a busy moment's.
    /// A near server whose machine is busy (two cores shared by both servers and the tools) answers some of them a
    /// few milliseconds late, and three can all be: while none has come back within <see cref="Far"/>, more are sent,
    /// up to ten in all, until the measure has taken <see cref="Patience"/>. A busy near server is then not taken for
    /// a far one, and a far one's measure takes at most that long, or three of its round trips.
    /// </summary>
    public static Task<TimeSpan> MeasureAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        MeasureAsync(
            async ct =>
            {
                var started = Stopwatch.GetTimestamp();
                await Db.ExecuteAsync(conn, "SELECT", ct);
                return Stopwatch.GetElapsedTime(started);
            },
            cancellationToken);

    /// <summary><see cref="MeasureAsync(NpgsqlConnection, CancellationToken)"/> over <paramref name="sample"/>, which makes one round trip and says how long it took.</summary>
    internal static async Task<TimeSpan> MeasureAsync(Func<CancellationToken, Task<TimeSpan>> sample, CancellationToken cancellationToken)
    {
        var shortest = TimeSpan.MaxValue;
        var began = Stopwatch.GetTimestamp();
        for (var i = 0; i < 3 || (i < 10 && shortest >= Far && Stopwatch.GetElapsedTime(began) < Patience); i++)
        {
            var took = await sample(cancellationToken);
            shortest = took < shortest ? took : shortest;
        }

        return shortest;
    }
}
