using Npgsql;
using NpgsqlTypes;

namespace PgRelocate.Online.Apply;

/// <summary>
/// A group of whole source transactions whose commit <see cref="ChangeApplier"/> started: <see cref="Stored"/> is done
/// once every lane has committed its part and the follow's position is stored; the rest is what the applier counts
/// then (the position, the changes and transactions, the last marker, the carried tables' files to delete and the
/// tables loaded at their markers), and the source commit time of its first transaction, for the lag until then.
/// </summary>
internal sealed record StartedGroup(Task Stored, NpgsqlLogSequenceNumber End, long Changes, long Transactions, string? Marker, string[] CarriedFiles, string[] Loaded, DateTime? FirstCommitTime = null)
{
    /// <summary>
    /// Asks every lane with changes to commit, then the first lane to run <paramref name="position"/> (the follow's
    /// position) once all have: a transaction before that position is skipped whole on a restart, so it is stored only
    /// after every part of it is committed. Returns once asked, with a task done when the position is stored.
    /// </summary>
    public static async Task<Task> CommitAsync(IReadOnlyList<IApplyLane> lanes, NpgsqlBatchCommand position, CancellationToken cancellationToken)
    {
        var commits = new List<Task>();
        foreach (var lane in lanes.Where(l => l.HasOpenGroup))
        {
            commits.Add(await lane.StartCommitAsync(cancellationToken));
        }

        return await lanes[0].StartRunAsync(position, LanesCommittedAsync(commits), cancellationToken);
    }

    private static async Task LanesCommittedAsync(List<Task> commits)
    {
        await Task.WhenAll(commits);
        if (commits.Count > 0)
        {
            Migration.FaultInjection.At("follow", "lanes-committed");
        }
    }
}
