namespace PgRelocate.Migration;

/// <summary>
/// The phases a migration's lag samples are taken in, named alike by `status`, the journal and the report's chart.
/// Here, where the lag history is kept; the online follow records them (and adds its own after the switch).
/// </summary>
internal static class LagPhases
{
    /// <summary>Streaming the source's changes into the target.</summary>
    public const string Follow = "follow";

    /// <summary>The apply paused at the position of a source snapshot while the target is compared with it.</summary>
    public const string Verify = "verify";

    /// <summary>The source read-only, its last changes applied, the target switched.</summary>
    public const string Cutover = "cutover";
}

/// <summary>
/// One point of an online follow's lag over time, kept in the journal for the report's chart: the worst lag
/// over the span it stands for (from <see cref="At"/> to the next sample) and the mean apply rate over it.
/// </summary>
/// <param name="Phase">What the migration was doing: one of <see cref="LagPhases"/>, as `status` names it.</param>
public sealed record LagSample(DateTimeOffset At, string Phase, long LagBytes, double LagSeconds, double ChangesPerSecond);

/// <summary>
/// The lag samples of a follow, bounded whatever its length: a sample about every two seconds, the samples
/// given within that interval merged into one (keeping the worst lag), and once more than
/// <see cref="Capacity"/> are kept, neighbours merged in pairs and the interval doubled. A follow that lasts
/// days keeps evenly spaced samples, and the journal stays small.
/// </summary>
internal sealed class LagHistory(int capacity = LagHistory.DefaultCapacity) : IReadOnlyList<LagSample>
{
    public const int DefaultCapacity = 600;

    /// <summary>The interval between samples at the start of a follow.</summary>
    public static readonly TimeSpan FirstInterval = TimeSpan.FromSeconds(2);

    private readonly List<LagSample> _samples = [];

    /// <summary>How many samples each kept one merges, for the mean apply rate.</summary>
    private readonly List<int> _weights = [];

    public int Capacity => capacity;

    /// <summary>The interval between kept samples now: it doubles each time the samples are merged in pairs.</summary>
    public TimeSpan Interval { get; private set; } = FirstInterval;

    public int Count => _samples.Count;

    public LagSample this[int index] => _samples[index];

    public IEnumerator<LagSample> GetEnumerator() => _samples.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Adds a sample, merged into the last one when it falls within <see cref="Interval"/> of it in the same phase.</summary>
    public void Add(LagSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (_samples.Count > 0 && _samples[^1].Phase == sample.Phase && sample.At - _samples[^1].At < Interval)
        {
            (_samples[^1], _weights[^1]) = Merge(_samples[^1], _weights[^1], sample, 1);
            return;
        }

        _samples.Add(sample);
        _weights.Add(1);
        if (_samples.Count > capacity)
        {
            Halve();
            Interval *= 2;
        }
    }

    /// <summary>
    /// At most <paramref name="max"/> samples for a rendering (a compact table): consecutive samples of one phase
    /// merged in groups of equal size, keeping the worst lag of each group and its mean apply rate.
    /// </summary>
    public static IReadOnlyList<LagSample> Downsample(IReadOnlyList<LagSample> samples, int max)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var group = Math.Max(1, (int)Math.Ceiling(samples.Count / (double)Math.Max(1, max)));
        var result = new List<LagSample>();
        var weights = new List<int>();
        for (var i = 0; i < samples.Count; i++)
        {
            // A group starts at a fixed stride, or where the phase changes (the phases stay apart).
            if (result.Count > 0 && i % group != 0 && result[^1].Phase == samples[i].Phase)
            {
                (result[^1], weights[^1]) = Merge(result[^1], weights[^1], samples[i], 1);
            }
            else
            {
                result.Add(samples[i]);
                weights.Add(1);
            }
        }

        return result;
    }

    /// <summary>Merges neighbours in pairs (never across a change of phase).</summary>
    private void Halve()
    {
        var samples = new List<LagSample>();
        var weights = new List<int>();
        for (var i = 0; i < _samples.Count; i++)
        {
            if (i + 1 < _samples.Count && _samples[i].Phase == _samples[i + 1].Phase)
            {
                var (merged, weight) = Merge(_samples[i], _weights[i], _samples[i + 1], _weights[i + 1]);
                samples.Add(merged);
                weights.Add(weight);
                i++;
            }
            else
            {
                samples.Add(_samples[i]);
                weights.Add(_weights[i]);
            }
        }

        _samples.Clear();
        _samples.AddRange(samples);
        _weights.Clear();
        _weights.AddRange(weights);
    }

    /// <summary>The first one's time and phase, the worst lag of the two, their mean apply rate.</summary>
    private static (LagSample, int) Merge(LagSample a, int aWeight, LagSample b, int bWeight) =>
        (a with
        {
            LagBytes = Math.Max(a.LagBytes, b.LagBytes),
            LagSeconds = Math.Max(a.LagSeconds, b.LagSeconds),
            ChangesPerSecond = ((a.ChangesPerSecond * aWeight) + (b.ChangesPerSecond * bWeight)) / (aWeight + bWeight),
        }, aWeight + bWeight);
}
