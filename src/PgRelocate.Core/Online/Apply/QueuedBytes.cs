namespace PgRelocate.Online.Apply;

/// <summary>
/// Bounds the bytes of the changes waiting in a lane's queue, as the queue's length bounds their number: the applier
/// runs ahead of a lane that commits (see <see cref="ChangeApplier.CommitInBackgroundAsync"/>) by thousands of small
/// changes, but by only a few wide ones. A change larger than the whole bound still goes in, alone.
/// </summary>
internal sealed class QueuedBytes(long limit)
{
    private readonly Lock _lock = new();
    private long _held;
    private bool _closed;
    private TaskCompletionSource? _released;

    /// <summary>What a change weighs here: its values' characters, and a little for each value and the change itself.</summary>
    public static long Of(Change change) => change switch
    {
        InsertChange i => 64 + Of(i.New),
        UpdateChange u => 64 + Of(u.New) + (u.Old is { } old ? Of(old) : 0),
        DeleteChange d => 64 + Of(d.Old),
        _ => 64,
    };

    /// <summary>Waits until <paramref name="bytes"/> more fit under the bound (or nothing is held), then holds them.</summary>
    public async ValueTask TakeAsync(long bytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task released;
            lock (_lock)
            {
                if (_closed || _held == 0 || _held + bytes <= limit)
                {
                    _held += bytes;
                    return;
                }

                _released ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                released = _released.Task;
            }

            await released.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The lane has taken a change out of its queue.</summary>
    public void Release(long bytes)
    {
        TaskCompletionSource? released;
        lock (_lock)
        {
            _held -= bytes;
            (released, _released) = (_released, null);
        }

        released?.TrySetResult();
    }

    /// <summary>The lane stopped or failed: nothing waits for room any more (its queue, closed, refuses what comes).</summary>
    public void Close()
    {
        TaskCompletionSource? released;
        lock (_lock)
        {
            _closed = true;
            (released, _released) = (_released, null);
        }

        released?.TrySetResult();
    }

    private static long Of(RowValues row)
    {
        long bytes = 16 * row.Values.Length;
        foreach (var value in row.Values)
        {
            bytes += 2L * (value?.Length ?? 0);
        }

        return bytes;
    }
}
