using NpgsqlTypes;

namespace PgRelocate.Online.Follow;

/// <summary>
/// Where a follow pauses (a snapshot's position, a verification's: see <see cref="Follower.RunAsync"/>'s stopBefore)
/// and what it does there, kept across the sessions of one run (a reconnect does not pause again): whole transactions
/// before it committed, what is done there done, and the follow goes on; or, when the follow had taken a transaction
/// past the position before it became known, <see cref="Missed"/>, and the run stops.
/// </summary>
internal sealed class FollowPause(Func<PausePoint?>? at, Func<CancellationToken, Task>? then)
{
    private bool _reached;

    /// <summary>The position to pause at, once known and until reached.</summary>
    public PausePoint? At => _reached ? null : at?.Invoke();

    /// <summary>The follow had taken a transaction past the position before it became known: the run stops.</summary>
    public bool Missed { get; private set; }

    /// <summary>Before a transaction committed at or after the pause's position (or begun there), the pause; false when the follow must stop (a missed pause).</summary>
    /// <param name="commit">Commits what the follow applied so far (whole transactions before the position).</param>
    public async Task<bool> BeforeAsync(FollowSession session, ulong commitLsn, Func<CancellationToken, Task> commit, CancellationToken cancellationToken)
    {
        if (At is not { At: var position } || (commitLsn < (ulong)position && session.LastBegun < (ulong)position))
        {
            return true;
        }

        return await HereAsync(session, position, commit, cancellationToken);
    }

    /// <summary>Pauses here, the pause's position reached; false when the follow must stop (it took a transaction past the position).</summary>
    public async Task<bool> HereAsync(FollowSession session, NpgsqlLogSequenceNumber position, Func<CancellationToken, Task> commit, CancellationToken cancellationToken)
    {
        if (session.LastBegun >= (ulong)position || session.Applier.Position > position)
        {
            Missed = true;
            return false;
        }

        await commit(cancellationToken);
        // Reached only once what it does there is done: a reconnect before then pauses again at the same place.
        await (then?.Invoke(cancellationToken) ?? Task.CompletedTask);
        _reached = true;
        return true;
    }
}
