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

    /// <summary>Runs <paramref name="body"/> and records it as one step.</summary>
    public async Task TimeAsync(string step, string obj, Func<Task> body)
    {
        var start = Now;
        await body();
        Add(step, obj, start);
    }
}
