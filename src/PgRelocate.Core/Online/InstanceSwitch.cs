using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online.Steps;
using PgRelocate.Progress;

namespace PgRelocate.Online;

/// <summary>
/// An online instance migration (<c>migrate --online --databases a,b</c>, <c>--all-databases</c>): one slot and
/// publication per database, each database's migration checked with the online prerequisites, copied one after
/// another and following its source, then switched together: when <c>pgrelocate cutover PARENT</c> asks (a request
/// in the parent's folder), or, with <c>--cutover auto</c>, once every database was verified while following and
/// is within --max-lag. Switching is a request in each database's folder (<see cref="CutoverRequest"/>): their
/// cutovers then run side by side.
/// </summary>
internal sealed class InstanceSwitch : IInstanceSwitch
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    public string WaitStep => FollowStep.StepName;

    public IReadOnlyList<IMigrationStep> Checks { get; } = [new OnlineCheckStep()];

    /// <summary>
    /// Every database still to copy needs a replication slot of its own at once, and each a WAL sender while it
    /// follows; and they all follow at once, each with the sessions one online migration opens on either server
    /// (<see cref="Follow.OnlineSessions"/>), which each database's own online check counts only for itself.
    /// </summary>
    public async Task<string?> BlockerAsync(MigrationOptions options, IReadOnlyList<MigrationJournal> moving, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(moving);
        await using var source = await Db.OpenAsync(options.Source, "source", cancellationToken);
        var (slots, usedSlots, senders, usedSenders) = await OnlineChecks.ReplicationCapacityAsync(source, cancellationToken);
        // A resumed database whose slot is still there keeps it.
        var newSlots = moving.Count(m => !m.Step(SnapshotCopyStep.StepName).Has(SnapshotCopyStep.Slot));
        if (slots - usedSlots < newSlots || senders - usedSenders < moving.Count)
        {
            return $"the {moving.Count} databases follow their source at once, each with a replication slot and a WAL sender of its own, and the source's server has {slots - usedSlots} slots ({usedSlots} of max_replication_slots {slots} used) and {senders - usedSenders} WAL senders ({usedSenders} of max_wal_senders {senders}) free: {OnlineChecks.SlotsFix.TrimEnd('.')}, or move fewer databases at once";
        }

        var target = options.Into.Connection;
        var onSource = await SessionsShortAsync(source, "source", moving.Count, Follow.OnlineSessions.OnSource(options.Into.Jobs, options.Source, target).Needed, cancellationToken);
        await using var targetSession = await Db.OpenAsync(target, "target", cancellationToken);
        return onSource ?? await SessionsShortAsync(targetSession, "target", moving.Count, Follow.OnlineSessions.OnTarget(options.Into.Jobs, options.Source, target).Needed, cancellationToken);
    }

    /// <summary>Why a server cannot take <paramref name="databases"/> online migrations' sessions at once (<paramref name="each"/> each), or null.</summary>
    private static async Task<string?> SessionsShortAsync(Npgsql.NpgsqlConnection conn, string side, int databases, int each, CancellationToken cancellationToken)
    {
        var (free, limit) = (await Catalog.ServerState.ReadAsync(conn, cancellationToken)).FreeSlots;
        return free >= databases * each ? null
            : $"the {databases} databases follow their source at once, each opening up to {each} sessions on the {side}, {databases * each} in all, and the {side} allows {Math.Max(free, 0)} more connections ({limit}): close other sessions, raise the limit, pass a smaller --jobs, or move fewer databases at once";
    }

    public async Task SwitchTogetherAsync(MigrationOptions options, MigrationJournal parent, IReadOnlyList<MigrationJournal> children, Task ended, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(children);
        ArgumentNullException.ThrowIfNull(reporter);
        // Resumed in the middle of the switch: every database has its request already, and goes on with it.
        if (children.All(c => CutoverRequest.IsRequested(c.Folder)))
        {
            return;
        }

        reporter.Info(options.AutoCutover
            ? $"All {children.Count} databases follow their source; they switch together once each is verified and within {options.MaxLag.TotalSeconds:0.#}s of it."
            : $"All {children.Count} databases follow their source; switch them together with 'pgrelocate cutover {parent.Id}'.");
        // A follow verified once stays so: its journal (large at thousands of tables) is read again only until then.
        var verified = new HashSet<string>(StringComparer.Ordinal);
        while (!ended.IsCompleted)
        {
            if (CutoverRequest.IsRequested(parent.Folder) || (options.AutoCutover && children.All(c => Ready(c, options.MaxLag, verified))))
            {
                parent.AddLog(CutoverRequest.IsRequested(parent.Folder) ? "Cutover requested: every database switches." : "Every database caught up: every database switches.");
                parent.Save();
                foreach (var child in children)
                {
                    CutoverRequest.Write(child.Folder);
                }

                // Passed on: should a database fail its switch and copy again, its new follow waits for a new request.
                CutoverRequest.Clear(parent.Folder);
                return;
            }

            await Task.WhenAny(ended, Task.Delay(Poll, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Whether a database's follow was verified and is within <paramref name="maxLag"/> of its source, as its status file and journal say.</summary>
    private static bool Ready(MigrationJournal child, TimeSpan maxLag, HashSet<string> verified)
    {
        if (OnlineStatus.Read(child.Folder) is not { Phase: OnlinePhases.Follow } status || status.LagSeconds >= maxLag.TotalSeconds)
        {
            return false;
        }

        if (!verified.Contains(child.Id) && child.Reload().Step(FollowStep.StepName).Has(FollowStep.Verified))
        {
            verified.Add(child.Id);
        }

        return verified.Contains(child.Id);
    }
}
