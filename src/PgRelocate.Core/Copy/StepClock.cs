using System.Collections.Concurrent;
using System.Diagnostics;

namespace PgRelocate.Copy;

/// <summary>Records every step's start and duration against one clock, from any worker.</summary>
internal sealed class StepClock
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentQueue<CopyStep> _steps = new();

    public TimeSpan Now => _clock.Elapsed;

    public IReadOnlyList<CopyStep> Steps => [.. _steps.OrderBy(s => s.Start)];

    public void Add(string step, string obj, TimeSpan start, long? rows = null, long? bytes = null) =>
        _steps.Enqueue(new CopyStep(step, obj, start, _clock.Elapsed - start, rows, bytes));

    /// <summary>
    /// Records one piece of work done for several objects at once (one round trip): each object is a step of its
    /// own, with an equal share of the time since <paramref name="start"/>, one after the other.
    /// </summary>
    public void AddShared(string step, IReadOnlyList<string> objects, TimeSpan start)
    {
        var share = (_clock.Elapsed - start) / Math.Max(1, objects.Count);
        for (var i = 0; i < objects.Count; i++)
        {
            _steps.Enqueue(new CopyStep(step, objects[i], start + (share * i), share, null, null));
        }
    }

    /// <summary>Runs <paramref name="body"/> and records it as one step.</summary>
    public async Task TimeAsync(string step, string obj, Func<Task> body)
    {
        var start = Now;
        await body();
        Add(step, obj, start);
    }
}
