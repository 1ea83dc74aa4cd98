namespace PgRelocate.Preflight;

/// <summary>
/// A rate watched while the estimate measures it: the amount counted so far, at moments of the measurement's own time.
/// The first <paramref name="warmUp"/> of the amount is not watched (a change expected once that much is counted, a
/// target's free buffers filling, is over by then): the window begins at the first reading that holds it. The rate
/// has settled once the window is at least <paramref name="least"/> long and its later half's rate is within
/// <see cref="Tolerance"/> of its earlier half's. A steady rate (a table read to nowhere, a lane into the target past
/// its buffers, a busy application's WAL) settles within a second or a few, and its measurement can stop there
/// without changing what it finds; an uneven one (a cache running out, a checkpoint's full-page writes, writes in
/// bursts) does not, and is measured for the whole of its share of the budget, as before.
/// </summary>
internal sealed class SettlingRate(TimeSpan least, double warmUp = 0)
{
    /// <summary>How far the two halves' rates may differ, as a share of the larger: a tenth.</summary>
    public const double Tolerance = 0.1;

    /// <summary>The fewest readings, the window's start included, that can show a rate's two halves.</summary>
    private const int FewestPoints = 4;

    /// <summary>A reading closer than this to the last one kept is not kept (a stream read in small pieces).</summary>
    private const double Apart = 0.05;

    /// <summary>The window's readings, each the measurement's seconds and the amount counted by then: its start first ((0, 0) without a warm-up).</summary>
    private readonly List<(double Seconds, double Amount)> _points = warmUp > 0 ? [] : [(0, 0)];

    /// <summary>Counts <paramref name="amount"/> in all by <paramref name="at"/> (both only grow).</summary>
    public void Add(TimeSpan at, double amount)
    {
        if (_points.Count == 0 ? amount >= warmUp : at.TotalSeconds >= _points[^1].Seconds + Apart)
        {
            _points.Add((at.TotalSeconds, amount));
        }
    }

    /// <summary>Whether the window is long enough and its two halves agree (see the type).</summary>
    public bool Settled
    {
        get
        {
            var (seconds, amount) = Window;
            if (_points.Count < FewestPoints || seconds < least.TotalSeconds || amount <= 0)
            {
                return false;
            }

            var half = seconds / 2;
            var atHalf = AmountAt(_points[0].Seconds + half) - _points[0].Amount;
            var early = atHalf / half;
            var late = (amount - atHalf) / (seconds - half);
            return Math.Abs(late - early) <= Tolerance * Math.Max(early, late);
        }
    }

    /// <summary>How long the window has been watched and the amount counted in it: none before the warm-up is over.</summary>
    public (double Seconds, double Amount) Window =>
        _points.Count < 2 ? (0, 0) : (_points[^1].Seconds - _points[0].Seconds, _points[^1].Amount - _points[0].Amount);

    /// <summary>The amount counted by <paramref name="seconds"/>, read straight between the readings either side.</summary>
    private double AmountAt(double seconds)
    {
        var after = _points.FindIndex(p => p.Seconds >= seconds);
        var (s1, a1) = _points[after];
        var (s0, a0) = _points[after - 1];
        return a0 + ((a1 - a0) * (seconds - s0) / (s1 - s0));
    }
}
