using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Staging.Retry;

/// <summary>
/// Bounded retries with exponential backoff for transient failures (a dropped connection, a timeout, a 5xx,
/// throttling), as <see cref="Transience"/> judges them. Permanent errors (authentication, permission, expiry, not
/// found) are never retried.
/// </summary>
public sealed class RetryPolicy
{
    public RetryPolicy(int maxAttempts = 6, TimeSpan? firstDelay = null, TimeSpan? maxDelay = null, IReporter? reporter = null)
    {
        MaxAttempts = maxAttempts;
        FirstDelay = firstDelay ?? TimeSpan.FromMilliseconds(200);
        MaxDelay = maxDelay ?? TimeSpan.FromSeconds(10);
        Reporter = reporter ?? NullReporter.Instance;
    }

    public int MaxAttempts { get; }

    public TimeSpan FirstDelay { get; }

    public TimeSpan MaxDelay { get; }

    public IReporter Reporter { get; }

    public TimeSpan Delay(int failedAttempts)
    {
        var ms = FirstDelay.TotalMilliseconds * Math.Pow(2, failedAttempts - 1);
        // Jitter keeps parallel workers from retrying in lockstep.
        ms *= 0.75 + (Random.Shared.NextDouble() / 2);
        return TimeSpan.FromMilliseconds(Math.Min(ms, MaxDelay.TotalMilliseconds));
    }

    public async Task<T> RunAsync<T>(string what, Func<CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(action);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action(cancellationToken);
            }
            catch (Exception e) when (attempt < MaxAttempts && Transience.IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                var delay = Delay(attempt);
                Reporter.Warn($"{what} failed ({Describe(e)}); retrying in {Units.Duration(delay)} (attempt {attempt + 1} of {MaxAttempts}).");
                await Task.Delay(delay, cancellationToken);
            }
        }
    }

    public Task RunAsync(string what, Func<CancellationToken, Task> action, CancellationToken cancellationToken) =>
        RunAsync<bool>(what, async ct =>
        {
            await action(ct);
            return true;
        }, cancellationToken);

    /// <summary>One line for a log: our own messages are already safe; others are reduced to their type, since
    /// a library's message may quote a URL with its signature.</summary>
    public static string Describe(Exception e) => e is PgRelocateException ? e.Message : e.GetType().Name;
}
