using NpgsqlTypes;

namespace PgRelocate.Online.Follow;

/// <summary>
/// The follow's pause at a snapshot's position (a verification's, see <see cref="RunAsync"/>'s stopBefore): whole
/// transactions before it committed, what is done there done, and the follow goes on; or, when the follow had taken a
/// transaction past the position before it became known, the run stops with <see cref="PauseMissed"/> set.
/// </summary>
internal sealed partial class Follower
{
    /// <summary>Before a transaction committed at or after the pause's position (or begun there), the pause; false when the follow must stop (a missed pause).</summary>
    private async Task<bool> PauseBeforeAsync(FollowSession session, Pause pause, ulong commitLsn, CancellationToken cancellationToken)
    {
        if (pause.At is not { At: var at } || (commitLsn < (ulong)at && session.LastBegun < (ulong)at))
        {
            return true;
        }

        return await PauseAsync(session, pause, at, cancellationToken);
    }

    /// <summary>Pauses here, the pause's position reached; false when the follow must stop (it took a transaction past the position).</summary>
    private async Task<bool> PauseAsync(FollowSession session, Pause pause, NpgsqlLogSequenceNumber at, CancellationToken cancellationToken)
    {
        if (session.LastBegun >= (ulong)at || session.Applier.Position > at)
        {
            PauseMissed = true;
            return false;
        }

        session.Confirm(await session.Applier.CommitAsync(cancellationToken));
        Account(session);
        // Reached only once what it does there is done: a reconnect before then pauses again at the same place.
        await pause.Then(cancellationToken);
        pause.Reached = true;
        return true;
    }

    /// <summary>Where a follow pauses and what it does there, kept across the sessions of one run (a reconnect does not pause again).</summary>
    private sealed class Pause(Func<PausePoint?>? at, Func<CancellationToken, Task>? then)
    {
        public bool Reached { get; set; }

        /// <summary>The position to pause at, once known and until reached.</summary>
        public PausePoint? At => Reached ? null : at?.Invoke();

        public Task Then(CancellationToken cancellationToken) => then?.Invoke(cancellationToken) ?? Task.CompletedTask;
    }
}
