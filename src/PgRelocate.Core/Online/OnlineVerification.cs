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
/// follow then goes on from where it paused.
/// </summary>
public static class OnlineVerification
{
    /// <param name="folder">The migration's folder, where `status` reads that the apply is paused.</param>
    public static async Task<VerificationResult> RunAsync(Follower follower, PgConnectionInfo source, PgConnectionInfo target, string slot, int jobs, string folder, IReporter reporter, CancellationToken cancellationToken)
    {
        await using var replication = new LogicalReplicationConnection(source.WithApplicationName("pgrelocate online verify").ToNpgsqlConnectionString());
        PgOutputReplicationSlot point;
        try
        {
            await replication.Open(cancellationToken);
            point = await replication.CreatePgOutputReplicationSlot(slot + "_verify", temporarySlot: true, slotSnapshotInitMode: LogicalSlotSnapshotInitMode.Export, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or System.Net.Sockets.SocketException)
        {
            throw Db.Describe(e, source, "source");
        }

        var at = point.ConsistentPoint;
        reporter.Info($"Verifying while following: pausing the apply at {at}, the position of a source snapshot.");
        await follower.RunAsync(p => p.CaughtUp && p.Received >= at, cancellationToken, stopBefore: at);
        VerificationResult result;
        using (var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var watch = WatchPauseAsync(follower, source, slot, at, folder, reporter, watching.Token);
            try
            {
                result = await Verifier.RunAsync(
                    new VerifyOptions { Source = source, Target = target, Mode = VerifyMode.Checksums, SourceSnapshot = point.SnapshotName, Jobs = Math.Max(2, jobs) },
                    reporter,
                    cancellationToken);
            }
            finally
            {
                await watching.CancelAsync();
                await watch;
            }
        }

        // Not differences while following: the tool's own schema on the target; sequence values and large
        // objects, which logical decoding does not carry (the cutover sets and copies them again), and which a
        // snapshot does not hold still (a sequence is read as it is now, not as of the snapshot).
        return result with
        {
            SchemaDifferences = result.SchemaDifferences
                .Where(d => !d.Name.Contains(OnlineNames.TargetSchema, StringComparison.Ordinal) && d.Kind is not ("sequence value" or "large object"))
                .ToList(),
        };
    }

    /// <summary>
    /// While the apply is paused, samples the slot every two seconds for `status` and the report's chart: the WAL
    /// the target is behind, and, as its lag in time, how long it has stood still at the pause (it holds the
    /// source as of then). Watching is a courtesy: a failure to watch never fails the verification.
    /// </summary>
    private static async Task WatchPauseAsync(Follower follower, PgConnectionInfo source, string slot, NpgsqlLogSequenceNumber at, string folder, IReporter reporter, CancellationToken cancellationToken)
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
    }
}
