using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using PgRelocate.Connections;
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
    public static async Task<VerificationResult> RunAsync(Follower follower, PgConnectionInfo source, PgConnectionInfo target, string slot, int jobs, IReporter reporter, CancellationToken cancellationToken)
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
        var result = await Verifier.RunAsync(
            new VerifyOptions { Source = source, Target = target, Mode = VerifyMode.Checksums, SourceSnapshot = point.SnapshotName, Jobs = Math.Max(2, jobs) },
            reporter,
            cancellationToken);
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
}
