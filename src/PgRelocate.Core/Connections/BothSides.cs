namespace PgRelocate.Connections;

/// <summary>The same read of the source and of the target, at once.</summary>
internal static class BothSides
{
    /// <summary>
    /// Runs <paramref name="read"/> (given a connection and its side's name, "source" or "target") on both sides at
    /// once. When both fail, the source's failure is the one thrown, as when they were read in turn.
    /// </summary>
    public static async Task<(T Source, T Target)> ReadAsync<T>(PgConnectionInfo source, PgConnectionInfo target, Func<PgConnectionInfo, string, Task<T>> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var fromSource = read(source, "source");
        var fromTarget = read(target, "target");
        await Task.WhenAll(fromSource, fromTarget).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        return (await fromSource, await fromTarget);
    }
}
