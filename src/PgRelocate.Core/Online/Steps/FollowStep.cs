using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Online.Apply;
using PgRelocate.Online.Follow;
using PgRelocate.Progress;

namespace PgRelocate.Online.Steps;

/// <summary>
/// Streams the source's changes into the target until the cutover: `pgrelocate cutover ID` from any terminal,
/// or, with --cutover auto, as soon as the target has caught up within --max-lag. Interrupted (a crash, a kill),
/// a resumed run continues from the position stored in the target. Undone, the large transactions a killed follow
/// kept on disk are removed (the source sends them again to a resumed one).
/// </summary>
public sealed class FollowStep : ICompensatingStep
{
    public const string StepName = "follow";

    /// <summary>What the verification while following found: "N tables identical"; missing when it did not pass.</summary>
    public static readonly JournalKey<string> Verified = JournalKey.Text("verified");

    /// <summary>The changes applied while following.</summary>
    public static readonly JournalKey<long?> Changes = JournalKey.Count("changes");

    /// <summary>
    /// How far behind the source the follow may still be when the verification while following begins. Its snapshot's
    /// position is the source's then: the follow reaches it within what that lag takes to apply, and the comparison
    /// runs beside the rest of the catch-up instead of after it (at pgbench scale 150, 11 to 16 s of comparing). Bounded
    /// so that the source's snapshot is held open for little more than that: a follow far behind (a large copy, a long
    /// stop) first comes within it. (Starting at the copy's end once carried the source's schema ahead of a resumed
    /// stream, a table renamed while the follow was down left under the stream's name; a rename carried at a marker is
    /// now applied from the name the target holds then, see <see cref="Apply.CarriedFile"/>, and a copy waiting for its
    /// marker leaves out only its own table's changes, not those of a table that had its name, see
    /// <see cref="Apply.CarriedCopies"/>.)
    /// </summary>
    internal static readonly TimeSpan VerifyWithin = TimeSpan.FromSeconds(60);

    public string Name => StepName;

    public string? SkipReason(MigrationOptions options) => null;

    public bool KeepOnSuccess(MigrationOptions options) => false;

    /// <summary>
    /// Removes what the follow kept on disk (see <see cref="TransactionSpool"/>), and resumes at the source an
    /// application this step paused at PgBouncer (<see cref="PgBouncerSwitch"/>) that the switch did not resume.
    /// </summary>
    public async Task UndoAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        TransactionSpool.RemoveLeftIn(context.Folder);
        await PgBouncerSwitch.ResumeAtSourceAsync(context, cancellationToken);
    }

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        await using (var target = await Db.OpenAsync(options.Into.Connection, "target", cancellationToken))
        {
            await TargetState.RefuseUnwritableAsync(target, cancellationToken);
        }

        var follower = OnlineCutoverStep.FollowerFor(context, OnlinePhases.Follow);
        var auto = options.AutoCutover;
        var maxLag = options.MaxLag.TotalSeconds;
        context.Reporter.Info(auto
            ? $"Following the source; the cutover starts once the target is within {maxLag:0.#}s of it."
            : $"Following the source; switch with 'pgrelocate cutover {InstanceJournal.ParentOf(context.Journal) ?? context.Journal.Id}'.");
        bool Requested() => CutoverRequest.IsRequested(context.Folder);

        var verified = false;
        var switching = false;
        // The snapshot the copy took once its rows were in: the follow reaches its position first (none on a resumed run).
        await using var first = context.TakeHandOff<FirstVerificationSnapshot>();
        try
        {
            // Prove the target exact at one position of the source before anything switches, the comparison beside the
            // rest of the catch-up: at the copy's snapshot, or one taken once within a minute of the source (see VerifyWithin).
            if (first is null)
            {
                await follower.RunAsync(p => Requested() || p.CaughtUp || p.LagSeconds < VerifyWithin.TotalSeconds, cancellationToken);
            }

            if (!Requested())
            {
                var copy = context.Journal.Step(SnapshotCopyStep.StepName);
                // A cutover asked while a table waits to be carried ends the wait: the switch below refuses it, naming the table.
                if (await OnlineVerification.RunUnlessAsync(follower, options.Source, options.Into.Connection, copy.Get(SnapshotCopyStep.Slot)!, options.Into.Jobs, context.Reporter, Requested, cancellationToken, first) is { } result)
                {
                    foreach (var table in VerifyStep.Tables(result))
                    {
                        context.Record.Tables.Add(table with { Title = table.Title + " while following" });
                    }

                    if (result.HasDifferences)
                    {
                        throw new PgRelocateException($"Verification while following found differences: {result.Brief()} ('pgrelocate info {context.Journal.Id}' lists them). Nothing is switched.", ExitCode.Differences);
                    }

                    verified = true;
                    context.Record.Set(Verified, $"{result.Tables.Count} tables identical");
                    context.Reporter.Info($"Verified while following: {result.Tables.Count} tables identical to the source at one position.");
                    context.Journal.Save();
                }
            }

            if (first is not null)
            {
                // Not used (a cutover asked first): its snapshot must not hold the source's vacuum back while following.
                await first.DisposeAsync();
            }

            // Behind PgBouncer the switch starts with its PAUSE; one that waits past --max-pause gives up (resumed,
            // nothing changed), the request is answered with the reason, and the follow goes on.
            var notBefore = DateTimeOffset.MinValue;
            var sessionsAhead = false;
            while (true)
            {
                await follower.RunAsync(
                    p => Requested() || (auto && verified && DateTimeOffset.UtcNow >= notBefore && (p.CaughtUp || p.LagSeconds < maxLag)),
                    cancellationToken);
                if (CutoverRequest.TakePgBouncer(context.Folder) is { } given)
                {
                    // Named by `cutover --pgbouncer`: kept for the rest of the run, and in the journal for cancel (no password).
                    context.Options = options = options with { PgBouncer = given };
                    given.ToJournal(context.Journal.Options);
                    context.Journal.Save();
                }

                var refused = await PassBeforeSwitchAsync(context, follower, cancellationToken);
                if (refused is null)
                {
                    if (!sessionsAhead)
                    {
                        // Before the PAUSE: the application waits through everything after it.
                        await SwitchSessions.OpenAheadAsync(context, cancellationToken);
                        sessionsAhead = true;
                    }

                    await CloseInAsync(follower, context.Reporter, cancellationToken);
                    refused = options.PgBouncer is null ? null : await PgBouncerSwitch.TryPauseAsync(context, cancellationToken);
                }

                if (refused is null)
                {
                    switching = true;
                    break;
                }

                context.Reporter.Warn(refused);
                CutoverRequest.Refuse(context.Folder, refused);
                notBefore = DateTimeOffset.UtcNow.AddSeconds(30);
            }
        }
        finally
        {
            // Kept when the follow fails too: the lag before a stop is what explains it.
            OnlineCutoverStep.RecordLag(context, follower, "Lag while following");
            if (!switching)
            {
                // Failed or stopped: a resumed run follows from the position stored in the target.
                await follower.DisposeAsync();
            }
        }

        if (context.Journal.Estimate is { } estimate && follower.WithinASecondAt is { } within)
        {
            // The catch-up the estimate predicts: from the snapshot copy's end to the target within a second of the source.
            estimate.Actual.CatchUpSeconds = (within - context.Record.StartedAt)?.TotalSeconds;
        }

        OnlineCutoverStep.Record(context, follower);
        context.Record.Summary = $"{follower.Changes} changes in {follower.Transactions} transactions applied; {(verified ? "verified identical while following; " : "not verified while following (cutover asked first); ")}{(Requested() ? "cutover requested" : "caught up, automatic cutover")}";
        context.Record.Set(Changes, follower.Changes);
        context.Reporter.Progress(new ProgressUpdate("follow", follower.Changes, follower.Changes, "changes", Finished: true));

        // The switch goes on with this session, the follow applying meanwhile what the source commits until its
        // sessions are ended: the cutover's catch-up, inside the write downtime, is then only the last moment's.
        follower.StartPhase(OnlinePhases.Cutover);
        context.HandOff(FollowGoingOn.Start(follower, cancellationToken));
    }

    /// <summary>
    /// What the source made and the target lacks is carried before the switch (once the source is read-only no marker
    /// can place its copy in the stream), then both schemas are compared and the target given what it can take ahead
    /// (<see cref="SchemaObjects.BeforeSwitchAsync"/>); the reason the cutover waits, or null. The pass compares the
    /// target after the stream has applied everything the source committed before it: a table renamed on the source
    /// (while the follow was stopped, or a moment ago) is the stream's to rename, and a pass ahead of it finds the
    /// table missing on the target and refuses what depends on it. A refusal is checked once more after the stream
    /// catches up again, for a schema the source changed between the mark and the pass's dump.
    /// </summary>
    private static async Task<string?> PassBeforeSwitchAsync(MigrationContext context, Follower follower, CancellationToken cancellationToken)
    {
        string? refused = null;
        for (var pass = 0; pass < 2; pass++)
        {
            await follower.Carry.NowAsync(cancellationToken);
            if (follower.Carry.Waiting is [_, ..] waiting)
            {
                return $"The cutover waits: {string.Join(", ", waiting)} cannot be carried to the target yet (see the warning that names it); the follow goes on: ask again once it is carried (an automatic cutover tries again by itself)";
            }

            if (follower.Carry.CarriesSchemaChanges)
            {
                await follower.RunAsync(await OnlineCutoverStep.MarkLastChangeAsync(context, cancellationToken), cancellationToken);
            }

            refused = await SchemaObjects.BeforeSwitchAsync(context, cancellationToken);
            if (refused is null)
            {
                return null;
            }
        }

        return refused;
    }

    /// <summary>The lag the follow comes within just before the source stops taking writes (see <see cref="CloseInAsync"/>).</summary>
    internal static readonly TimeSpan CloseLag = TimeSpan.FromMilliseconds(500);

    /// <summary>How long the follow tries to come within <see cref="CloseLag"/> before the switch goes on as it is.</summary>
    internal static readonly TimeSpan CloseWithin = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Right before the switch: the follow applies what the source wrote while the switch was being decided (the
    /// lag under --max-lag, the carry of new tables, the schema pass with its two pg_dump runs, seconds on a busy
    /// machine) while the source still takes writes, so that the write downtime's catch-up is only what the last
    /// moment brings. Bounded: a follow that does not come within <see cref="CloseLag"/> in <see cref="CloseWithin"/>
    /// goes to the switch as it stands, which then applies the rest.
    /// </summary>
    private static async Task CloseInAsync(Follower follower, IReporter reporter, CancellationToken cancellationToken)
    {
        var until = DateTimeOffset.UtcNow + CloseWithin;
        var lag = double.PositiveInfinity;
        await follower.RunAsync(
            p =>
            {
                lag = p.CaughtUp ? 0 : p.LagSeconds;
                return p.CaughtUp || p.LagSeconds < CloseLag.TotalSeconds || DateTimeOffset.UtcNow >= until;
            },
            cancellationToken);
        reporter.Info($"Before the switch, the target is {lag:0.00}s behind the source.");
    }
}
