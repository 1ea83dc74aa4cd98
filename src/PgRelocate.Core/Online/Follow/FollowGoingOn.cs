namespace PgRelocate.Online.Follow;

/// <summary>
/// The follow going on in the background from the end of the follow step to the cutover's catch-up: the source
/// goes on committing until making it read-only has ended its sessions, and what it commits meanwhile is applied
/// now rather than inside the write downtime's catch-up. The follower's sessions on the source (its watch's, its
/// carry's) are named as the migration's own (<see cref="Follower.SourceSessions"/>), which making the source
/// read-only leaves be; the replication stream is no client session. The cutover gives the condition it stops at
/// (<see cref="UntilAsync"/>); a migration that stops before that disposes it, which ends the run.
/// </summary>
internal sealed class FollowGoingOn : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly Task _running;
    private Func<FollowPoint, bool>? _until;

    private FollowGoingOn(Follower follower, CancellationToken cancellationToken)
    {
        Follower = follower;
        From = (follower.Changes, follower.Transactions);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Asked at every source transaction's end and whenever the stream runs dry: no condition yet, no stop.
        _running = Task.Run(() => follower.RunAsync(p => Volatile.Read(ref _until) is { } until && until(p), _stop.Token), CancellationToken.None);
    }

    /// <summary>The follower that goes on (its counts, its lag's history); the caller of <see cref="UntilAsync"/> disposes it.</summary>
    public Follower Follower { get; }

    /// <summary>The changes and transactions it had applied when it went on.</summary>
    public (long Changes, long Transactions) From { get; }

    /// <summary>Starts <paramref name="follower"/> applying in the background, in its current phase.</summary>
    public static FollowGoingOn Start(Follower follower, CancellationToken cancellationToken) => new(follower, cancellationToken);

    /// <summary>
    /// Ends the run once <paramref name="done"/> says stop (asked as the run goes on: the condition met already ends it
    /// at its next transaction's end, or when the stream next runs dry); raises what failed it, if anything did.
    /// </summary>
    public async Task UntilAsync(Func<FollowPoint, bool> done, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _until, done);
        await using (cancellationToken.Register(() => _stop.Cancel()))
        {
            await _running;
        }

    }

    /// <summary>Ends the run, if it still goes (a migration stopped before its cutover), and the follower with it.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _running;
        }
        catch (Exception)
        {
            // Stopped, or failed in the background: the step that stopped the migration says why.
        }

        _stop.Dispose();
        await Follower.DisposeAsync();
    }
}
