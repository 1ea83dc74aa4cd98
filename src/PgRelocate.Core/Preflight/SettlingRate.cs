namespace PgRelocate.Preflight;

/// <summary>
/// A rate watched while the estimate measures it: the amount counted so far, at moments of the measurement's own time.
/// It has settled once it has been watched for at least <paramref name="least"/>, the earlier half of that time holds
/// at least <paramref name="leastEarly"/> (so that a change expected after that amount, a target's free buffers
/// filling, lies wholly before the later half), and the rate over the later half is within <see cref="Tolerance"/> of
/// the rate over the earlier half. A steady rate (a table read to nowhere, a lane into the target, a busy
/// application's WAL) settles within a second or a few, and its measurement can stop there without changing what it
/// finds; an uneven one (a cache running out, a checkpoint's full-page writes, writes in bursts) does not, and is
/// measured for the whole of its share of the budget, as before.
/// </summary>
internal sealed class SettlingRate(TimeSpan least, double leastEarly = 0)
{
    /// <summary>How far the two halves' rates may differ, as a share of the larger: a tenth.</summary>
    public const double Tolerance = 0.1;

    /// <summary>The fewest readings, the start's included, that can show a rate's two halves.</summary>
    private const int FewestPoints = 4;

    /// <summary>A reading closer than this to the last one kept is not kept (a stream read in small pieces).</summary>
    private const double Apart = 0.05;

    /// <summary>The measurement's seconds and the amount counted by then, the start (0, 0) first.</summary>
    private readonly List<(double Seconds, double Amount)> _points = [(0, 0)];

    /// <summary>Counts <paramref name="amount"/> in all by <paramref name="at"/> (both only grow).</summary>
    public void Add(TimeSpan at, double amount)
    {
        if (at.TotalSeconds >= _points[^1].Seconds + Apart)
        {
            _points.Add((at.TotalSeconds, amount));
        }
    }

    /// <summary>Whether the rate has been watched long enough and its two halves agree (see the type).</summary>
    public bool Settled
    {
        get
        {
            var (seconds, amount) = _points[^1];
            if (_points.Count < FewestPoints || seconds < least.TotalSeconds || amount <= 0)
            {
                return false;
            }

            var half = seconds / 2;
            var atHalf = AmountAt(half);
            if (atHalf < leastEarly)
            {
                return false;
            }

            var early = atHalf / half;
            var late = (amount - atHalf) / (seconds - half);
            return Math.Abs(late - early) <= Tolerance * Math.Max(early, late);
        }
    }

    /// <summary>The amount counted by <paramref name="seconds"/>, read straight between the readings either side.</summary>
    private double AmountAt(double seconds)
    {
        var after = _points.FindIndex(p => p.Seconds >= seconds);
        var (s1, a1) = _points[after];
        var (s0, a0) = _points[after - 1];
        return a0 + ((a1 - a0) * (seconds - s0) / (s1 - s0));
    }
}
