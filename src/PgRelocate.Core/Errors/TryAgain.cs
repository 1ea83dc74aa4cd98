using System.Diagnostics;

namespace PgRelocate.Errors;

/// <summary>
/// The one "try again briefly", for a state that passes by itself in a moment (a connection slot a session closed
/// a moment before still holds, a lock whose holder has just ended, an index an application has locked, a slot
/// whose streaming session is ending): the work is run again, a pause apart, while it fails with what the caller
/// says is worth another try and the bound allows; then its last failure stands as it is. Never after a
/// cancellation. What is worth trying again is the caller's: most often <see cref="Transience.IsTransient"/>. A
/// caller that has met the failure already (its own first try was other work) has the pause come first.
/// </summary>
internal static class TryAgain
{
    /// <summary>The pause between two tries unless told.</summary>
    public static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(100);

    /// <summary>Runs <paramref name="attempt"/> again while it fails with what <paramref name="again"/> accepts, for up to <paramref name="within"/> since the first try.</summary>
    public static Task<T> ForAsync<T>(TimeSpan within, Func<Exception, bool> again, Func<CancellationToken, Task<T>> attempt, CancellationToken cancellationToken, TimeSpan? pause = null, bool pauseFirst = false)
    {
        var clock = Stopwatch.StartNew();
        return RunAsync(_ => clock.Elapsed < within, pause ?? Pause, pauseFirst, again, attempt, cancellationToken);
    }

    /// <inheritdoc cref="ForAsync{T}(TimeSpan, Func{Exception, bool}, Func{CancellationToken, Task{T}}, CancellationToken, TimeSpan?, bool)"/>
    public static Task ForAsync(TimeSpan within, Func<Exception, bool> again, Func<CancellationToken, Task> attempt, CancellationToken cancellationToken, TimeSpan? pause = null) =>
        ForAsync(within, again, Done(attempt), cancellationToken, pause);

    /// <summary>Runs <paramref name="attempt"/> again while it fails with what <paramref name="again"/> accepts, up to <paramref name="tries"/> tries in all.</summary>
    public static Task<T> TimesAsync<T>(int tries, Func<Exception, bool> again, Func<CancellationToken, Task<T>> attempt, CancellationToken cancellationToken, TimeSpan? pause = null) =>
        RunAsync(tried => tried < tries, pause ?? Pause, pauseFirst: false, again, attempt, cancellationToken);

    /// <inheritdoc cref="TimesAsync{T}(int, Func{Exception, bool}, Func{CancellationToken, Task{T}}, CancellationToken, TimeSpan?)"/>
    public static Task TimesAsync(int tries, Func<Exception, bool> again, Func<CancellationToken, Task> attempt, CancellationToken cancellationToken, TimeSpan? pause = null) =>
        TimesAsync(tries, again, Done(attempt), cancellationToken, pause);

    private static async Task<T> RunAsync<T>(Func<int, bool> more, TimeSpan pause, bool pauseFirst, Func<Exception, bool> again, Func<CancellationToken, Task<T>> attempt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(again);
        ArgumentNullException.ThrowIfNull(attempt);
        if (pauseFirst)
        {
            await Task.Delay(pause, cancellationToken);
        }

        for (var tried = 1; ; tried++)
        {
            try
            {
                return await attempt(cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not OperationCanceledException && more(tried) && again(e))
            {
                if (pause > TimeSpan.Zero)
                {
                    await Task.Delay(pause, cancellationToken);
                }
            }
        }
    }

    private static Func<CancellationToken, Task<bool>> Done(Func<CancellationToken, Task> attempt) => async ct =>
    {
        await attempt(ct);
        return true;
    };
}
