using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using NpgsqlTypes;
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
/// position, and the existing row checksums compare the target with the source as of that snapshot. The
/// follow then goes on from where it paused. A table the source truncated while it was compared is compared
/// again at a new position: TRUNCATE is not MVCC-safe, and the snapshot then shows it empty.
/// </summary>
public static class OnlineVerification
{
    /// <summary>The kinds of difference (a verification's) that logical decoding does not carry and the cutover does.</summary>
    private static readonly string[] CutoverCarries = ["sequence value", "large object"];

    /// <summary>Verifications at new positions when a differing table was truncated under the last one.</summary>
    private const int Attempts = 3;

    /// <param name="folder">The migration's folder, where `status` reads that the apply is paused.</param>
    public static async Task<VerificationResult> RunAsync(Follower follower, PgConnectionInfo source, PgConnectionInfo target, string slot, int jobs, string folder, IReporter reporter, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (result, rewritten) = await AtOnePositionAsync(follower, source, target, slot, attempt, jobs, folder, reporter, cancellationToken);
            var raced = result.Tables.Where(t => !t.Equal && rewritten.Contains(t.Name)).Select(t => t.Name).ToList();
            if (raced.Count == 0 || attempt == Attempts)
            {
                return result;
            }

            reporter.Info($"The source truncated (or rewrote) {string.Join(", ", raced)} after the verification's snapshot, which then no longer shows its rows: verifying again at a new position.");
        }
    }

    /// <returns>The verification, and the tables ("schema.table") the source rewrote after its snapshot.</returns>
    private static async Task<(VerificationResult Result, IReadOnlySet<string> Rewritten)> AtOnePositionAsync(
        Follower follower, PgConnectionInfo source, PgConnectionInfo target, string slot, int attempt, int jobs, string folder, IReporter reporter, CancellationToken cancellationToken)
    {
        // The exported snapshot stays importable while this connection is open and idle.
        await using var replication = new LogicalReplicationConnection(source.WithApplicationName("pgrelocate online verify").ToNpgsqlConnectionString());
        PgOutputReplicationSlot point;
        try
        {
            await replication.Open(cancellationToken);
            point = await replication.CreatePgOutputReplicationSlot($"{slot}_verify{attempt}", temporarySlot: true, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.Export, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw Db.Describe(e, source, "source");
        }

        var at = point.ConsistentPoint;
        reporter.Info($"Verifying while following: pausing the apply at {at}, the position of a source snapshot.");
        await follower.RunAsync(p => p.CaughtUp && p.Received >= at, cancellationToken, stopBefore: at);
        VerificationResult? verified = null;
        using (var verifying = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        using (var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            // The watcher stops the verification if the paused slot comes to hold more WAL than allowed.
            var watch = WatchPauseAsync(follower, source, slot, at, folder, reporter, verifying, watching.Token);
            PgRelocateException? endangered;
            try
            {
                verified = await Verifier.RunAsync(
                    new VerifyOptions { Source = source, Target = target, Mode = VerifyMode.Checksums, SourceSnapshot = point.SnapshotName, Jobs = Math.Max(2, jobs) },
                    reporter,
                    verifying.Token);
            }
            catch (OperationCanceledException) when (verifying.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // The watcher's stop, thrown below.
            }
            finally
            {
                await watching.CancelAsync();
                endangered = await watch;
            }

            if (endangered is not null)
            {
                throw endangered;
            }
        }

        var result = verified ?? throw new OperationCanceledException(cancellationToken);

        IReadOnlySet<string> rewritten = new HashSet<string>(StringComparer.Ordinal);
        if (result.Tables.Any(t => !t.Equal) && point.SnapshotName is { } snapshot)
        {
            await using var conn = await Db.OpenAsync(source, "source", cancellationToken);
            await Db.ExecuteAsync(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", cancellationToken);
            await Db.ExecuteAsync(conn, $"SET TRANSACTION SNAPSHOT {Db.Literal(snapshot)}", cancellationToken);
            rewritten = (await Db.ListAsync(conn, OnlineSql.RewrittenTables, r => r.GetString(0), cancellationToken)).ToHashSet(StringComparer.Ordinal);
        }

        // The target's own schema is the tool's: not a difference. Nor are sequences and large objects the
        // source changed since the copy: logical decoding does not carry them, and the cutover sets the
        // sequences and copies the large objects again.
        var atCutover = result.SchemaDifferences.Where(d => CutoverCarries.Contains(d.Kind)).ToList();
        if (atCutover.Count > 0)
        {
            reporter.Info($"{atCutover.Count} sequence values and large objects differ while following, as expected: the cutover carries them.");
        }

        return (result with
        {
            SchemaDifferences = result.SchemaDifferences
                .Where(d => !d.Name.Contains(OnlineNames.TargetSchema, StringComparison.Ordinal) && !CutoverCarries.Contains(d.Kind))
                .ToList(),
        }, rewritten);
    }

    /// <summary>
    /// While the apply is paused, samples the slot every two seconds for `status` and the report's chart: the WAL
    /// the target is behind, and, as its lag in time, how long it has stood still at the pause (it holds the
    /// source as of then). Past --max-retained-wal it stops the verification and returns the follow's stop, as
    /// the follow itself would; otherwise a failure to watch never fails the verification.
    /// </summary>
    private static async Task<PgRelocateException?> WatchPauseAsync(Follower follower, PgConnectionInfo source, string slot, NpgsqlLogSequenceNumber at, string folder, IReporter reporter, CancellationTokenSource verifying, CancellationToken cancellationToken)
    {
        var paused = DateTimeOffset.UtcNow;
        try
        {
            await using var conn = await Db.OpenAsync(source.WithApplicationName("pgrelocate online watch"), "source", cancellationToken);
            while (true)
            {
                await using (var cmd = new NpgsqlCommand(OnlineSql.SlotLag, conn))
                {
                    cmd.Parameters.AddWithValue("slot", slot);
                    await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
                    if (await r.ReadAsync(cancellationToken))
                    {
                        var now = DateTimeOffset.UtcNow;
                        var status = new OnlineStatus
                        {
                            Phase = OnlinePhases.Verify,
                            AppliedLsn = at.ToString(),
                            LagBytes = r.GetInt64(0),
                            LagSeconds = (now - paused).TotalSeconds,
                            RetainedBytes = r.GetInt64(1),
                            Changes = follower.Changes,
                            Transactions = follower.Transactions,
                            UpdatedAt = now,
                        };
                        status.Write(folder);
                        follower.History.Add(new LagSample(now, OnlinePhases.Verify, status.LagBytes, status.LagSeconds, 0));
                        if (status.RetainedBytes > follower.MaxRetainedBytes)
                        {
                            await verifying.CancelAsync();
                            return Follower.SourceEndangered(status.RetainedBytes, follower.MaxRetainedBytes, null, null);
                        }
                    }
                }

                await Task.Delay(LagHistory.FirstInterval, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The verification ended.
        }
        catch (Exception e) when (e is PgRelocateException or NpgsqlException or IOException)
        {
            reporter.Debug("Could not watch the paused follow: " + e.Message);
        }

        return null;
    }
}
