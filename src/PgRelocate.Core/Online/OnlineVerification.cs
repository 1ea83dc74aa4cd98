using PgRelocate.Online.Follow;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Progress;
using PgRelocate.Verify;

namespace PgRelocate.Online;

/// <summary>
/// Proves the target exact while the source stays live, without adding a full verification to the downtime:
/// a temporary replication slot exports a snapshot whose position is known exactly (it holds every
/// transaction committed before the slot's consistent point, and none after), the apply pauses at that same
/// position only long enough to hold the target in a snapshot of its own, then goes on while the existing row
/// checksums compare the two snapshots: the proof adds no lag however long it takes (only a TRUNCATE that
/// arrives meanwhile waits for it, see <see cref="Follower.RunAsync"/>; a session of the source that waits for its
/// snapshot to end makes it give way, see <see cref="SnapshotWaiters"/>). A table the source truncated while it
/// was compared is compared again at a new position: TRUNCATE is not MVCC-safe, and the snapshot then shows it
/// empty.
/// </summary>
internal static class OnlineVerification
{
    /// <summary>The kinds of difference (a verification's) that logical decoding does not carry and the cutover does.</summary>
    private static readonly string[] CutoverCarries = ["sequence value", "large object"];

    /// <summary>
    /// With schema changes carried, the kinds the cutover's schema pass makes the source's (<see cref="SchemaObjects"/>,
    /// exactly at the switch): a difference of them while following is a change the application deployed since the
    /// copy, which the cutover carries, as is a table the source dropped.
    /// </summary>
    private static readonly string[] CutoverCarriesObjects = ["view", "materialized view", "index", "constraint", "function", "trigger", "sequence"];

    /// <summary>Verifications at new positions when a differing table was truncated under the last one.</summary>
    private const int Attempts = 3;

    /// <summary>
    /// Verifications at new positions when the source's schema changed under the last one (a partition maintenance job
    /// making the next days' partitions, which the follow carries after the snapshot): more than <see cref="Attempts"/>,
    /// since a busy job can race several in a row, and bounded.
    /// </summary>
    private const int SchemaRaces = 10;

    /// <summary>Verifications at new positions when a session of the source waited for the last one's snapshot (see <see cref="SnapshotWaiters"/>).</summary>
    private const int GiveWays = 5;

    public static async Task<VerificationResult> RunAsync(Follower follower, PgConnectionInfo source, PgConnectionInfo target, string slot, int jobs, IReporter reporter, CancellationToken cancellationToken) =>
        (await RunUnlessAsync(follower, source, target, slot, jobs, reporter, () => false, cancellationToken))!;

    /// <summary>As <see cref="RunAsync"/>, but a table waiting to be carried is waited for only until <paramref name="giveUp"/> says so (a cutover asked).</summary>
    /// <returns>The verification; null when it gave up before it began.</returns>
    /// <param name="first">The snapshot the first position compares at, taken by the snapshot copy (see <see cref="FirstVerificationSnapshot"/>); null: one taken now.</param>
    public static async Task<VerificationResult?> RunUnlessAsync(Follower follower, PgConnectionInfo source, PgConnectionInfo target, string slot, int jobs, IReporter reporter, Func<bool> giveUp, CancellationToken cancellationToken, FirstVerificationSnapshot? first = null)
    {
        var unlogged = await UnloggedTablesAsync(source, reporter, cancellationToken);
        var (position, gaveWay, schemaRaces) = (0, 0, 0);
        for (var attempt = 1; ; attempt++)
        {
            position++;
            var carriedBefore = follower.Carry.Carries;
            if (!await WaitForCarriesAsync(follower, reporter, giveUp, cancellationToken))
            {
                return null;
            }

            var early = await FirstAsync(first, follower, carriedBefore, reporter);
            first = null;
            VerificationResult result;
            IReadOnlySet<string> rewritten;
            var carries = follower.Carry.Carries;
            var schemaBefore = early is null ? await SourceSchemaAsync(source, cancellationToken) : early.SchemaBefore;
            try
            {
                // 1. The source's snapshot, taken while the follow goes on (open to the position's end: its snapshot is
                // importable while its connection lives).
                await using var snapshot = early?.Snapshot ?? await VerificationSnapshot.BeginAsync(source, $"{slot}_verify{position}", giveUp, reporter, cancellationToken);
                (result, rewritten) = await AtOnePositionAsync(follower, snapshot, source, target, jobs, unlogged, reporter, cancellationToken);
            }
            catch (SnapshotWaitedException e) when (++gaveWay < GiveWays && !cancellationToken.IsCancellationRequested)
            {
                reporter.Info($"{e.Waiter}: the verification gives way, and verifies again at a new position.");
                // Not an attempt of those counted above: nothing differed.
                attempt--;
                continue;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && giveUp())
            {
                reporter.Info("The cutover was asked while the verification's snapshot waited for transactions open on the source: the follow goes on to the cutover without it.");
                return null;
            }
            catch (PgRelocateException e) when (RacedBySchemaChange(e) && !follower.Carry.CarriesSchemaChanges)
            {
                return StopsAtTheChange(reporter, e.Message);
            }
            catch (PgRelocateException e) when (RacedBySchemaChange(e) && attempt < Attempts)
            {
                reporter.Info($"A schema change on the source raced the verification's snapshot ({e.Message}): verifying again at a new position.");
                continue;
            }
            catch (Exception e) when (attempt < Attempts && Transience.IsDeadlock(e) && !cancellationToken.IsCancellationRequested)
            {
                // Its reads met the apply's DDL (a partition carried, a table dropped) in a lock cycle, and the server ended them.
                reporter.Info("The verification's reads and the follow's changes waited for each other's locks, and the server ended the verification's: verifying again at a new position.");
                continue;
            }

            var raced = result.Tables.Where(t => !t.Equal && rewritten.Contains(t.Name)).Select(t => t.Name).ToList();
            // A table the source made just before the snapshot reaches the target at the marker of its copy, after it:
            // missing there, or (a partition the target made ahead of its rows) present without them.
            var carried = follower.Carry.CarriedSince(carries);
            var carriedRaced = result.Tables.Where(t => !t.Equal && carried.Contains(t.Name)).Select(t => t.Name).ToList();
            // A DDL committed while the verification ran (a table renamed and its name given to a new one): the queries
            // read the newest catalog, so a name can stand for another table than the one in the snapshot.
            var ddlRaced = schemaBefore is not null && result.Tables.Any(t => !t.Equal)
                && await SourceSchemaAsync(source, cancellationToken) is { } schemaAfter && !schemaBefore.Same(schemaAfter);
            if (ddlRaced && !follower.Carry.CarriesSchemaChanges)
            {
                return StopsAtTheChange(reporter, $"{string.Join(", ", result.Tables.Where(t => !t.Equal).Select(t => t.Name))} differed");
            }

            var schemaRaced = follower.Carry.CarriesSchemaChanges && (result.SchemaDifferences.Count > 0 || carriedRaced.Count > 0 || ddlRaced);
            schemaRaces += schemaRaced ? 1 : 0;
            if ((raced.Count == 0 && !schemaRaced) || (attempt >= Attempts && (!schemaRaced || schemaRaces >= SchemaRaces)))
            {
                return result;
            }

            if (ddlRaced && result.SchemaDifferences.Count == 0 && carriedRaced.Count == 0)
            {
                reporter.Info($"The source's schema changed while the verification read it, and {string.Join(", ", result.Tables.Where(t => !t.Equal).Select(t => t.Name))} differed: verifying again at a new position.");
                continue;
            }

            if (carriedRaced.Count > 0)
            {
                reporter.Info($"{string.Join(", ", carriedRaced)} reached the target after the verification's snapshot (copied at a marker after its position): verifying again at a new position.");
                continue;
            }

            if (schemaRaced)
            {
                reporter.Info($"The source's schema differs from the target's at the verification's snapshot ({Sentences.Counted(result.SchemaDifferences.Count, "difference")}): a schema change the follow carries after it. Verifying again at a new position.");
                continue;
            }

            reporter.Info($"The source truncated (or rewrote) {string.Join(", ", raced)} after the verification's snapshot, which then no longer shows its rows: verifying again at a new position.");
        }
    }

    /// <summary>
    /// A column or table the snapshot still shows was dropped or renamed since: the catalog the queries run with is the
    /// newest, and the catalog's functions (an index's definition) find no longer what the snapshot lists.
    /// </summary>
    private static bool RacedBySchemaChange(PgRelocateException e) =>
        e.InnerException is PostgresException p
        && (p.SqlState is PostgresErrorCodes.UndefinedColumn or PostgresErrorCodes.UndefinedTable
            || (p.SqlState == PostgresErrorCodes.InternalError && p.MessageText.StartsWith("cache lookup failed", StringComparison.Ordinal)));

    /// <summary>
    /// With <c>--on-schema-change stop</c>, a schema change that raced the verification is not a difference to report:
    /// the follow stops at it, naming it, once the stream reaches it. The verification gives up (null: not verified).
    /// </summary>
    private static VerificationResult? StopsAtTheChange(IReporter reporter, string what)
    {
        reporter.Info($"A schema change on the source raced the verification while following ({what}): not verified; with --on-schema-change stop the follow stops at the change once the stream reaches it.");
        return null;
    }

    /// <summary>
    /// The snapshot the copy took, unless the follow has since carried tables the source made (their copies come at
    /// markers after its position, so the comparison would find them missing and verify again at a new position).
    /// </summary>
    private static async Task<FirstVerificationSnapshot.Taken?> FirstAsync(FirstVerificationSnapshot? first, Follower follower, int carriedBefore, IReporter reporter)
    {
        if (first is null || await first.GiveAsync(reporter) is not { } taken)
        {
            return null;
        }

        if (follower.Carry.CarriedSince(carriedBefore).Count == 0)
        {
            return taken;
        }

        reporter.Debug("Tables the source made during the copy are carried after the position of the snapshot taken as its rows were in: taking another.");
        await taken.Snapshot.DisposeAsync();
        return null;
    }

    /// <summary>The source's <see cref="SchemaFingerprint"/>; null when it cannot be read (the verification then goes without it).</summary>
    internal static async Task<SchemaFingerprint?> SourceSchemaAsync(PgConnectionInfo source, CancellationToken cancellationToken)
    {
        try
        {
            await using var conn = await Db.OpenAsync(source, "source", cancellationToken);
            return await SchemaFingerprint.ReadAsync(conn, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && Failures.Operational(e) is not null)
        {
            return null;
        }
    }

    /// <summary>
    /// Unlogged tables are not in the WAL: the follow never sees their changes, and the cutover copies them again
    /// with the source read-only, then compares them there.
    /// </summary>
    private static async Task<IReadOnlyList<string>> UnloggedTablesAsync(PgConnectionInfo source, IReporter reporter, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> unlogged;
        await using (var conn = await Db.OpenAsync(source, "source", cancellationToken))
        {
            unlogged = (await SourceSide.UnloggedTablesAsync(conn, cancellationToken)).Select(t => t.Name).ToList();
        }

        if (unlogged.Count > 0)
        {
            reporter.Info($"Left out of the verification while following: {unlogged.Count} unlogged {Sentences.Plural(unlogged.Count, "table")} ({Sentences.FirstFew(unlogged, 5)}), copied again and compared at the cutover.");
        }

        return unlogged;
    }

    /// <summary>
    /// While a table waits to be carried (the user must change something on the source, as the warning says), the
    /// comparison would only find it missing: the follow goes on, and the verification waits until it is carried.
    /// </summary>
    /// <returns>False when <paramref name="giveUp"/> said so first.</returns>
    private static async Task<bool> WaitForCarriesAsync(Follower follower, IReporter reporter, Func<bool> giveUp, CancellationToken cancellationToken)
    {
        // What the source made and the target lacks is carried first: its markers come before the snapshot's position.
        await follower.Carry.NowAsync(cancellationToken);
        if (follower.Carry.Waiting.Count > 0)
        {
            reporter.Info($"The verification while following waits until {string.Join(", ", follower.Carry.Waiting)} can be carried to the target; the follow goes on.");
        }

        while (follower.Carry.Waiting.Count > 0)
        {
            var until = DateTime.UtcNow.AddSeconds(5);
            await follower.RunAsync(_ => DateTime.UtcNow >= until || giveUp(), cancellationToken);
            if (giveUp())
            {
                return false;
            }

            await follower.Carry.NowAsync(cancellationToken);
        }

        return true;
    }

    /// <returns>The verification, and the tables ("schema.table") the source rewrote after its snapshot.</returns>
    private static async Task<(VerificationResult Result, IReadOnlySet<string> Rewritten)> AtOnePositionAsync(
        Follower follower, VerificationSnapshot snapshot, PgConnectionInfo source, PgConnectionInfo target, int jobs, IReadOnlyList<string> unlogged, IReporter reporter, CancellationToken cancellationToken)
    {
        // 2. The follow pauses at its position, holds the target there and compares while it goes on.
        using var comparison = new PausedComparison(follower, snapshot, source, target, jobs, unlogged, reporter, cancellationToken);
        var result = await comparison.RunAsync();

        // 3. The tables that differ because the source truncated them after the snapshot, to compare again.
        var rewritten = result.Tables.Any(t => !t.Equal)
            ? await snapshot.RewrittenTablesAsync(cancellationToken)
            : new HashSet<string>(StringComparer.Ordinal);

        // 4. What the cutover carries is no difference.
        return (LeaveToTheCutover(follower, result, reporter), rewritten);
    }

    /// <summary>
    /// The result without what the cutover carries. The target's own schema is the tool's: not a difference. Nor are
    /// sequences and large objects the source changed since the copy: logical decoding does not carry them, and the
    /// cutover sets the sequences and copies the large objects again. Nor, with schema changes carried, schema objects
    /// the source deployed since the copy (see <see cref="CutoverCarriesObjects"/>).
    /// </summary>
    private static VerificationResult LeaveToTheCutover(Follower follower, VerificationResult result, IReporter reporter)
    {
        var atCutover = result.SchemaDifferences.Where(d => CutoverCarries.Contains(d.Kind)).ToList();
        if (atCutover.Count > 0)
        {
            reporter.Info($"{atCutover.Count} sequence values and large objects differ while following, as expected: the cutover carries them.");
        }

        var differences = result.SchemaDifferences.Where(d => !d.Name.Contains(OnlineNames.TargetSchema, StringComparison.Ordinal) && !CutoverCarries.Contains(d.Kind)).ToList();
        // A view's columns differ with it, and those of a table the source dropped (a partition a retention job dropped).
        var views = differences.Where(d => d.Kind is "view" or "materialized view" || d is { Kind: "table", Difference: DifferenceKind.ExtraOnTarget }).Select(d => d.Name + ".").ToList();
        // Only while every table's rows are equal: a table that differs beside them is most often one the source made
        // around the snapshot, whose copy comes after it, and the differences then say to verify again at a new position.
        var rowsEqual = result.Tables.All(t => t.Equal);
        bool ObjectAtCutover(SchemaDifference d) => follower.Carry.CarriesSchemaChanges && rowsEqual
            && (CutoverCarriesObjects.Contains(d.Kind) || d is { Kind: "table", Difference: DifferenceKind.ExtraOnTarget }
                || (d.Kind == "column" && views.Any(v => d.Name.StartsWith(v, StringComparison.Ordinal))));
        var objects = differences.Where(ObjectAtCutover).ToList();
        if (objects.Count > 0)
        {
            reporter.Info($"Schema objects differ while following ({Sentences.Counted(objects.Count, "difference")}: {Sentences.FirstFew(objects.OrderBy(d => d.Kind == "column").Select(d => $"{d.Kind} {d.Name}").ToList(), 3)}): changes made on the source since the copy, which the cutover carries.");
        }

        return result with
        {
            SchemaDifferences = differences.Where(d => !ObjectAtCutover(d)).ToList(),
        };
    }

    /// <summary>
    /// The comparison at a snapshot's position: the follow pauses there without ending its session, the target is
    /// held in a snapshot of its own (REPEATABLE READ, pg_export_snapshot: no privilege needed), and the comparison of
    /// the two snapshots runs while the follow goes on. Should the follow have taken a transaction past that position
    /// already, the slot is taken again with the follow stopped.
    /// </summary>
    private sealed class PausedComparison(
        Follower follower, VerificationSnapshot snapshot, PgConnectionInfo source, PgConnectionInfo target, int jobs, IReadOnlyList<string> unlogged, IReporter reporter, CancellationToken cancellationToken)
        : IDisposable
    {
        private readonly CancellationTokenSource _following = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        private readonly CancellationToken _cancellationToken = cancellationToken;
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private NpgsqlConnection? _held;
        private Task<VerificationResult>? _verifying;
        private CancellationTokenSource? _comparing;
        private Task<string?>? _waited;

        public async Task<VerificationResult> RunAsync()
        {
            try
            {
                await FollowToThePauseAsync();
                var first = await snapshot.TakenAsync();
                if (follower.PauseMissed)
                {
                    reporter.Debug($"The follow had applied past the snapshot's position {first.ConsistentPoint} when it came: taking another with the follow stopped.");
                    await snapshot.TakeAgainAsync(_cancellationToken);
                    await FollowToThePauseAsync();
                }

                try
                {
                    return await (_verifying ?? throw new InvalidOperationException("The follow ended before it paused for the verification."));
                }
                catch (Exception) when (_waited is not null)
                {
                    if (await _waited is { } waiter)
                    {
                        throw new SnapshotWaitedException(waiter);
                    }

                    throw;
                }
            }
            finally
            {
                await EndAsync();
            }
        }

        public void Dispose()
        {
            _comparing?.Dispose();
            _following.Dispose();
        }

        /// <summary>The follow goes on until the comparison started at its pause is done (or the snapshot failed).</summary>
        private Task FollowToThePauseAsync() =>
            follower.RunAsync(Compared, _following.Token, stopBefore: snapshot.Pause, atPause: HoldAndCompareAsync, truncatesWaitFor: Comparing);

        private bool Compared(FollowPoint _) => _verifying is { IsCompleted: true } || snapshot.Failed;

        /// <summary>A TRUNCATE waits only for a comparison that runs: before the pause, the follow must go on to reach it.</summary>
        private Task? Comparing() => _verifying is null ? null : _released.Task;

        /// <summary>At the pause: the target held in a snapshot of its own, and the comparison started beside the follow.</summary>
        private async Task HoldAndCompareAsync(CancellationToken pausedToken)
        {
            var paused = snapshot.Slot!;
            reporter.Info($"Verifying while following: the apply paused at {paused.ConsistentPoint}, the position of a source snapshot.");
            if (_held is not null)
            {
                // A reconnect brought the follow back to the pause: hold the target again.
                await _held.DisposeAsync();
            }

            _held = await Db.OpenAsync(target.WithApplicationName("pgrelocate online verify"), "target", pausedToken);
            await Db.ExecuteAsync(_held, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", pausedToken);
            var targetSnapshot = await Db.ScalarAsync<string>(_held, "SELECT pg_catalog.pg_export_snapshot()", pausedToken);
            follower.MarkPhase(OnlinePhases.Verify);
            // Cancelled should a session of the source wait for the snapshot meanwhile, or a read of it for the apply (see SnapshotWaiters).
            _comparing = CancellationTokenSource.CreateLinkedTokenSource(_following.Token);
            _verifying = Verifier.RunAsync(
                new VerifyOptions { Source = source, Target = target, Mode = VerifyMode.Checksums, SourceSnapshot = paused.SnapshotName, TargetSnapshot = targetSnapshot, Jobs = VerifyOptions.ForMigration(jobs, source, target), ExceptTables = unlogged },
                reporter,
                _comparing.Token);
            _waited = SnapshotWaiters.WatchAsync(source, target, _verifying, _comparing, _following.Token);
            // Once it is done, the target's snapshot is no longer read: a waiting TRUNCATE may go on.
            _ = _verifying.ContinueWith(_ => _released.TrySetResult(), TaskScheduler.Default);
        }

        /// <summary>A follow that stopped (a schema change, the slot endangering the source) stops the comparison too; the target is let go.</summary>
        private async Task EndAsync()
        {
            await snapshot.StopCreatingAsync();
            await _following.CancelAsync();
            if (_verifying is not null)
            {
                try
                {
                    await _verifying;
                }
                catch (Exception) when (_following.IsCancellationRequested)
                {
                    // Its error, if it has one of its own, was thrown above.
                }
            }

            if (_waited is not null)
            {
                // Ends with the follow's token: it must not cancel a comparison disposed of after this.
                await _waited;
            }

            _released.TrySetResult();
            if (_held is not null)
            {
                await _held.DisposeAsync();
            }

            follower.MarkPhase(OnlinePhases.Follow);
        }
    }
}
