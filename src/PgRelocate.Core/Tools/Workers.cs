namespace PgRelocate.Tools;

/// <summary>Workers that run side by side and stop together: the first failure cancels the rest.</summary>
internal static class Workers
{
    /// <summary>Runs <paramref name="worker"/>; if it fails, cancels <paramref name="failed"/> so the others stop instead of finishing around a hole.</summary>
    public static async Task Guard(Task worker, CancellationTokenSource failed)
    {
        try
        {
            await worker;
        }
        catch
        {
            await failed.CancelAsync();
            throw;
        }
    }

    /// <summary>Waits for every task; on failure throws the first real error, not a cancellation it caused.</summary>
    public static async Task WhenAllAsync(IReadOnlyList<Task> tasks, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(tasks);
        }
        catch when (!cancellationToken.IsCancellationRequested)
        {
            var real = tasks.Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions).FirstOrDefault(e => e is not OperationCanceledException);
            if (real is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(real);
            }

            throw;
        }
    }
}
