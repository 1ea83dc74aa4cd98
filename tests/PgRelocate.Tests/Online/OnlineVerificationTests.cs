using Npgsql.Replication;
using PgRelocate.Connections;
using PgRelocate.Online;
using PgRelocate.Progress;
using PgRelocate.Tests.Catalog;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The verification while following, driven directly so that a source change can land exactly between the
/// snapshot it compares with and its reading of the source.
/// </summary>
public sealed class OnlineVerificationTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private const string Tables = "CREATE TABLE queue (id int PRIMARY KEY, v text); CREATE TABLE kept (id int PRIMARY KEY);";
    private const string Rows = "INSERT INTO queue SELECT g, 'v' || g FROM generate_series(1, 100) g; INSERT INTO kept SELECT generate_series(1, 10);";

    [Fact]
    public async Task Should_Verify_Again_At_A_New_Position_When_The_Source_Truncates_A_Table_After_The_Snapshot()
    {
        var source = await servers.SourceAsync(Tables + Rows);
        var target = await servers.Target.CreateDatabaseAsync("verify_truncate");
        await PgServer.ExecuteAsync(target, Tables + Rows);
        var slot = OnlineNames.Slot("verify-" + Guid.NewGuid().ToString("N")[..8]);
        await StartFollowingAsync(source, target, slot);
        using var dir = new TempDir();
        // TRUNCATE is not MVCC-safe: committed after the snapshot, it empties the table for the snapshot's readers too.
        var reporter = new SourceWriteOnPause(source, "TRUNCATE queue; INSERT INTO queue SELECT g, 'after' FROM generate_series(1, 5) g");
        var follower = new Follower(source, target, slot, slot, dir.Path, reporter);
        try
        {
            var result = await OnlineVerification.RunAsync(follower, source, target, slot, 2, dir.Path, reporter, CancellationToken.None);

            Assert.True(result.Tables.All(t => t.Equal), string.Join(", ", result.Tables.Where(t => !t.Equal).Select(t => $"{t.Name} {t.SourceRows}/{t.TargetRows}")));
            Assert.Contains(reporter.Lines, l => l.Contains("public.queue after the verification's snapshot", StringComparison.Ordinal));
            Assert.Equal(5L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM queue"));
        }
        finally
        {
            await SourceSide.RemoveAsync(source, slot, slot, [], CancellationToken.None);
        }
    }

    /// <summary>The publication, the slot and the target's position, as the snapshot copy leaves them (the two sides hold the same rows).</summary>
    private static async Task StartFollowingAsync(PgConnectionInfo source, PgConnectionInfo target, string slot)
    {
        await using (var conn = await Db.OpenAsync(source, "source", CancellationToken.None))
        {
            await SourceSide.CreatePublicationAsync(conn, slot, await SourceSide.TablesAsync(conn, CancellationToken.None), CancellationToken.None);
        }

        await using var replication = new LogicalReplicationConnection(source.ToNpgsqlConnectionString());
        await replication.Open();
        var created = await replication.CreatePgOutputReplicationSlot(slot);
        await using var conn2 = await Db.OpenAsync(target, "target", CancellationToken.None);
        await TargetState.CreateAsync(conn2, slot, created.ConsistentPoint, CancellationToken.None);
    }

    /// <summary>Records what is said, and commits a source transaction the first time the apply is about to pause for a verification.</summary>
    private sealed class SourceWriteOnPause(PgConnectionInfo source, string sql) : IReporter
    {
        private readonly RecordingReporter _lines = new();
        private int _written;

        public IReadOnlyList<string> Lines => _lines.Lines;

        public void Log(LogLevel level, string message)
        {
            _lines.Log(level, message);
            if (message.StartsWith("Verifying while following", StringComparison.Ordinal) && Interlocked.Exchange(ref _written, 1) == 0)
            {
                PgServer.ExecuteAsync(source, sql).GetAwaiter().GetResult();
            }
        }

        public void Progress(ProgressUpdate update)
        {
        }
    }
}
