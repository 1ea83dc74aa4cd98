namespace PgRelocate.Copy;

/// <summary>
/// Shares a fixed number of slots between the COPY streams and the index builds, index builds first. On a
/// server with few cores, a long index build (a GIN over jsonb) is usually the end of the critical path: run
/// next to every COPY stream it gets a fraction of a core and the whole copy waits for it. With the gate,
/// no more work runs at once than there are slots, and a waiting index build gets the next free one. Light work
/// (small tables', see <see cref="SmallTables"/>) passes without a slot while no other work holds or awaits one:
/// where every table is small, every session works at once; beside a large table's work it takes a slot as that does.
/// </summary>
internal sealed class WorkGate(int slots, int priorityWorkers)
{
    private readonly Lock _lock = new();
    private readonly Queue<(TaskCompletionSource Waiter, bool Light)> _first = new();
    private readonly Queue<(TaskCompletionSource Waiter, bool Light)> _second = new();
    private int _free = slots;
    private int _expected;
    private int _priorityHolders;
    private int _heavyHolders;

    /// <summary>
    /// Announces <paramref name="count"/> priority entries about to come (index builds just queued): while an
    /// index worker is free to take one, a freed slot is kept for it rather than going to the COPY stream
    /// that happens to ask first.
    /// </summary>
    public void Expect(int count)
    {
        lock (_lock)
        {
            _expected += count;
        }
    }

    /// <summary>
    /// Waits for a slot; <paramref name="priority"/> waiters are served before the others. <paramref name="light"/>
    /// work gets none (an empty lease) while no other work holds or awaits a slot.
    /// </summary>
    public async Task<IDisposable> EnterAsync(bool priority, CancellationToken cancellationToken, bool light = false)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (priority && _expected > 0)
            {
                _expected--;
            }

            if (light && _heavyHolders == 0 && _first.Count == 0 && _second.Count == 0)
            {
                return NoSlot.Instance;
            }

            if (priority ? _free > 0 : _first.Count == 0 && _free > Reserved)
            {
                _free--;
                _priorityHolders += priority ? 1 : 0;
                _heavyHolders += light ? 0 : 1;
                return new Slot(this, priority, light);
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            (priority ? _first : _second).Enqueue((waiter, light));
        }

        // A cancelled waiter is skipped by Release (TrySetResult fails), so no slot is lost.
        await using (cancellationToken.Register(() => waiter.TrySetCanceled(cancellationToken)))
        {
            await waiter.Task;
        }

        return new Slot(this, priority, light);
    }

    /// <summary>Slots to keep free: announced priority work that an idle index worker is about to ask for.</summary>
    private int Reserved => Math.Max(0, Math.Min(_expected, priorityWorkers - _priorityHolders - _first.Count));

    private void Release(bool priority, bool light)
    {
        lock (_lock)
        {
            _priorityHolders -= priority ? 1 : 0;
            _heavyHolders -= light ? 0 : 1;
            while (_first.Count > 0 || (_second.Count > 0 && _free + 1 > Reserved))
            {
                var fromFirst = _first.Count > 0;
                var (next, nextLight) = fromFirst ? _first.Dequeue() : _second.Dequeue();
                if (next.TrySetResult())
                {
                    // Counted here, where the slot changes hands, so light work never passes between the two.
                    _priorityHolders += fromFirst ? 1 : 0;
                    _heavyHolders += nextLight ? 0 : 1;
                    return;
                }
            }

            _free++;
        }
    }

    /// <summary>The lease of light work that passed without a slot.</summary>
    private sealed class NoSlot : IDisposable
    {
        public static readonly NoSlot Instance = new();

        public void Dispose()
        {
        }
    }

    private sealed class Slot(WorkGate gate, bool priority, bool light) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                gate.Release(priority, light);
            }
        }
    }
}
