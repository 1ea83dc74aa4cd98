using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Online;

/// <summary>
/// The source snapshot of the first verification while following, taken by the snapshot copy once every row is in
/// (its indexes, constraints and foreign keys still to build). Its position is then behind the source's by the
/// copy's post-data when the follow starts: the follow reaches it after applying the changes made while the rows were
/// copied, and the comparison runs beside the rest of the catch-up instead of after most of it, as with a snapshot
/// taken once the follow is within <see cref="Steps.FollowStep.VerifyWithin"/> of the source (whose position the
/// follow reaches only near the catch-up's end). It proves as much: the copy's rows, and the changes of the whole row
/// copy applied over them. Taken beside the copy, which does not wait for it; handed from the snapshot copy step to
/// the follow step (<see cref="Migration.MigrationContext.HandOff{T}"/>). One that could not be taken (no second
/// replication slot or sender free, the source refusing the marker) is let go, and the follow takes its own as before;
/// a resumed run has none.
/// </summary>
internal sealed class FirstVerificationSnapshot : IAsyncDisposable
{
    private readonly Task<Taken?> _taking;
    private int _given;

    private FirstVerificationSnapshot(Task<Taken?> taking) => _taking = taking;

    /// <summary>The snapshot, and the source's schema read just before it (what the verification tells schema changes since by).</summary>
    internal sealed record Taken(VerificationSnapshot Snapshot, SchemaFingerprint? SchemaBefore);

    /// <summary>Begins taking it, on its own sessions, while the caller goes on; <paramref name="giveUp"/> as for <see cref="VerificationSnapshot.BeginAsync"/>.</summary>
    public static FirstVerificationSnapshot Begin(PgConnectionInfo source, string slot, Func<bool> giveUp, IReporter reporter, CancellationToken cancellationToken) =>
        new(Task.Run(() => TakeAsync(source, slot, giveUp, reporter, cancellationToken), CancellationToken.None));

    /// <summary>
    /// The snapshot, the caller disposing of it from now on; null when none could be taken. One whose slot is still being
    /// created (waiting for a transaction open on the source) is handed over as it is: the follow goes on meanwhile.
    /// </summary>
    public async Task<Taken?> GiveAsync(IReporter reporter)
    {
        var taken = await _taking;
        Interlocked.Exchange(ref _given, 1);
        if (taken is { Snapshot.Failed: true })
        {
            reporter.Debug("The verification's snapshot taken as the copy's rows were in failed: taking another.");
            await taken.Snapshot.DisposeAsync();
            return null;
        }

        return taken;
    }

    /// <summary>Lets the snapshot go (its slot and session) unless it was given.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _given, 1) == 0 && await _taking is { } taken)
        {
            await taken.Snapshot.DisposeAsync();
        }
    }

    private static async Task<Taken?> TakeAsync(PgConnectionInfo source, string slot, Func<bool> giveUp, IReporter reporter, CancellationToken cancellationToken)
    {
        try
        {
            var schema = await OnlineVerification.SourceSchemaAsync(source, cancellationToken);
            // The name of no position the verification counts: one it takes after letting this go must not meet its slot.
            return new Taken(await VerificationSnapshot.BeginAsync(source, $"{slot}_verify0", giveUp, reporter, cancellationToken), schema);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && Failures.Operational(e) is not null)
        {
            reporter.Debug($"The verification's snapshot could not be taken as the copy's rows were in ({Failures.Operational(e)!.Message}): the follow takes its own.");
            return null;
        }
    }
}
