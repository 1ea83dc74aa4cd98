using System.Globalization;
using PgRelocate.Connections;
using PgRelocate.Copy;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Targets;

namespace PgRelocate.Migration.Steps;

/// <summary>
/// With --direct: the source copied straight into the target over parallel COPY streams on one snapshot,
/// instead of dump, stage and restore. The copy records on the target what it commits (its tables, the ranges of
/// its split tables, its indexes, constraints and analyses), so a resumed migration keeps that and copies the
/// rest; anything else (no record, another schema, a copy past its rows) starts over on an emptied target (the
/// migration's --confirm allows it). Cancelling the migration removes the record; the rows stay.
/// </summary>
public sealed class DirectCopyStep : ICompensatingStep
{
    public const string StepName = "copy";

    /// <summary>For tests: the size in bytes above which a table is split into ranges (the copy's default otherwise).</summary>
    public const string SplitVariable = "PGRELOCATE_TEST_SPLIT_BYTES";

    /// <summary>When the copy began (an earlier run's, on a resume): the target may hold its record until the undo removes it.</summary>
    private static readonly JournalKey<DateTimeOffset?> Began = JournalKey.Time("began");

    public static readonly JournalKey<long?> Rows = JournalKey.Count("rows");

    public static readonly JournalKey<long?> Bytes = JournalKey.Count("bytes");

    /// <summary>The copy's log, in the migration's folder.</summary>
    public static readonly JournalKey<string> Log = JournalKey.Text("log");

    public string Name => StepName;

    public EstimatedPart? Estimated => EstimatedPart.Copy;

    public string? SkipReason(MigrationOptions options) => options.Direct ? null : "dump and restore instead (no --direct)";

    public bool KeepOnSuccess(MigrationOptions options) => true;

    public async Task RunAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        // Whether an earlier run of this step began a copy, whose record the target may hold.
        var resumed = context.Record.Has(Began);
        context.Record.Set(Began, DateTimeOffset.UtcNow);
        context.Journal.Save();
        var runner = new CopyRunner(context.Binaries, context.Reporter);
        CopyResult result;
        // The copy's start, begun beside the checks (StartBesideChecks), goes on here: it has only read and checked.
        await using (var early = context.TakeHandOff<EarlyCopy>())
        {
            var (start, again) = early is not null && !resumed ? await TakeAsync(early, context, cancellationToken) : (null, TimeSpan.Zero);
            // Begun again alone when it was not begun beside the checks, or failed there; when that failure may pass by
            // itself, a second later, and again while it is met.
            start ??= await TryAgain.ForAsync(
                again,
                e => Failures.Operational(e) is { IsTransient: true },
                ct => runner.StartAsync(OptionsFor(context, resumed), ct),
                cancellationToken,
                StartAgainPause,
                pauseFirst: again > TimeSpan.Zero);
            await using (start)
            {
                result = await runner.FinishAsync(start, cancellationToken);
            }
        }

        context.Record.Set(Rows, result.Rows);
        context.Record.Set(Bytes, result.Bytes);
        context.Record.Set(Log, result.LogPath);
        var (steps, leftOut) = result.ForPeople();
        context.Record.Tables.Add(new ReportTable(
            "Copy steps",
            ["step", "object", "start", "duration", "rows"],
            steps.Select(s => (IReadOnlyList<string>)
            [
                s.Step, s.Object, Units.Duration(s.Start), Units.Duration(s.Duration), s.Rows?.ToString(CultureInfo.InvariantCulture) ?? "",
            ]).ToList()) { Note = leftOut > 0 ? $"The phases and the slowest steps of single tables; {leftOut:N0} shorter ones are in the copy's log ({result.LogPath})." : null });
        context.Record.Summary = $"{result.Tables} tables, {result.Rows} rows, {Units.Bytes(result.Bytes)}, {result.Sequences} sequences, {result.LargeObjects} large objects in {Units.Duration(result.Duration)}";
    }

    /// <summary>
    /// On cancel, removes the copy's record from the target (a resumed migration then starts the copy over); a run
    /// that failed keeps it for --resume. Without the target (a cancel given none) it stays, and is removed by the
    /// emptying of the next copy or restore into that target.
    /// </summary>
    public async Task UndoAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        if (!context.HasTarget || !(context.Canceling || context.Journal.Status == MigrationStatus.Canceled) || !context.Record.Has(Began))
        {
            return;
        }

        await using var conn = await Db.OpenAsync(context.Options.Into.Connection, "target", cancellationToken);
        await CopyRecord.RemoveAsync(conn, cancellationToken);
        context.Record.Remove(Began);
        context.Reporter.Info("The copy's record of what it committed is removed from the target: a resumed migration copies again.");
    }

    /// <summary>
    /// The start begun beside the checks, or null when it failed: it met the checks' sessions as well as its own (a
    /// source's connection limit, say), so it is begun again alone, and says then whatever it meets. After a failure
    /// that may pass by itself, the start alone is tried again for up to <see cref="StartAgainWithin"/> (the other
    /// <see cref="TimeSpan"/> returned; zero when it is not).
    /// </summary>
    private static async Task<(CopyStart? Start, TimeSpan Again)> TakeAsync(EarlyCopy early, MigrationContext context, CancellationToken cancellationToken)
    {
        try
        {
            return (await early.TakeAsync(), TimeSpan.Zero);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && Failures.Operational(e) is { } failure)
        {
            context.Reporter.Log(Progress.LogLevel.Debug, $"The copy's start beside the checks failed ({failure.Message}); starting it again.");
            // Short of connection slots, most likely: its own sessions and the checks' keep theirs until their server
            // processes have exited, a moment after they closed.
            return (null, failure.IsTransient ? StartAgainWithin : TimeSpan.Zero);
        }
    }

    /// <summary>How long the start alone is tried again after a transient failure beside the checks, and how far apart.</summary>
    /// Ten seconds: on a loaded server the checks' closed sessions took more than two to give their slots back.
    private static readonly TimeSpan StartAgainWithin = TimeSpan.FromSeconds(10);

    /// <inheritdoc cref="StartAgainWithin"/>
    private static readonly TimeSpan StartAgainPause = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Begins the copy's reading and checking (<see cref="CopyRunner.StartAsync"/>: the snapshot, the schema's dump, the
    /// source's tables, the target's checks) beside the migration's own checks, and hands it to this step, which goes
    /// on from it once the checks pass; when they refuse, the migration's end disposes it, and neither side was
    /// changed. Only where nothing runs between the checks and the copy that the copy must come after (the roles it
    /// would name, a source made read-only first); a copy begun by an earlier run (a resume's) is not taken from it.
    /// </summary>
    /// <returns>Whether it began.</returns>
    internal static bool StartBesideChecks(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        if (!options.Direct || options.Online || options.Roles || options.ReadOnlySource)
        {
            return false;
        }

        context.HandOff(new EarlyCopy(new CopyRunner(context.Binaries, context.Reporter), OptionsFor(context, resumed: false), cancellationToken));
        return true;
    }

    /// <summary>Stops the copy's start begun beside the checks, if one runs: this step then begins the copy itself.</summary>
    internal static async Task StopBesideChecksAsync(MigrationContext context)
    {
        if (context.TakeHandOff<EarlyCopy>() is { } early)
        {
            await early.DisposeAsync();
        }
    }

    /// <summary>The copy this step runs: <see cref="CopyOptionsFor"/>, recorded on the target as it commits (<paramref name="resumed"/>: an earlier run began it).</summary>
    private static CopyOptions OptionsFor(MigrationContext context, bool resumed) => CopyOptionsFor(context) with
    {
        Resumable = new ResumableCopy(context.Journal.Id, resumed, ReadOnlySince(context.Journal), context.Options.NotConsistent),
        Milestone = point => FaultInjection.At(StepName, point),
    };

    /// <summary>Whether the journal says a copy began and did not finish, and its record was not removed: it may be on the target.</summary>
    public static bool LeftOnTarget(MigrationJournal journal) =>
        journal.Steps.FirstOrDefault(s => s.Name == StepName) is { } step && step.Status is not StepStatus.Done && step.Has(Began);

    /// <summary>Only a copy that began and did not finish has a record to remove.</summary>
    public bool LeftToUndo(StepRecord record) => record.Status is not StepStatus.Done && record.Has(Began);

    /// <summary>
    /// The read-only mode of the source in force now, named by when the journal's read-only step last put it in
    /// place; null when the source is not read-only. A copy that began under the same mode read a source nobody
    /// wrote since (see <see cref="ResumableCopy"/>).
    /// </summary>
    internal static string? ReadOnlySince(MigrationJournal journal) =>
        ReadOnlySourceStep.LeftReadOnly(journal) && journal.Step(ReadOnlySourceStep.StepName).StartedAt is { } at
            ? at.ToString("O", CultureInfo.InvariantCulture)
            : null;

    /// <summary>
    /// The copy a migration runs: its connections, --confirm, lock and jobs, its log in the migration's folder. Its
    /// sessions are named after the migration: on the source, so the lists of applications to repoint leave them out;
    /// on the target, so a later run finds what a killed one left working there (<see cref="Catalog.LeftSessions"/>).
    /// </summary>
    internal static CopyOptions CopyOptionsFor(MigrationContext context, string? snapshot = null)
    {
        var options = context.Options;
        var name = HeldMigrationLock.ApplicationName(context.Journal.Id, "copy");
        var copy = new CopyOptions
        {
            Source = options.Source.WithApplicationName(name),
            Into = options.Into with { Connection = options.Into.Connection.WithApplicationName(name) },
            IndexJobs = options.Into.Jobs,
            Sessions = SessionCount.Copy(options.Into.Jobs),
            Snapshot = snapshot,
            LogPath = Path.Combine(context.Folder, "copy.log"),
        };
        return long.TryParse(Environment.GetEnvironmentVariable(SplitVariable), CultureInfo.InvariantCulture, out var split) ? copy with { SplitTablesLargerThan = split } : copy;
    }
}
