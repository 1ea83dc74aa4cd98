using PgRelocate.Online.Follow;
using Npgsql.Replication;
using PgRelocate.Connections;
using PgRelocate.Online;
using PgRelocate.Online.Apply;
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
        var (source, target, slot) = await FollowingAsync(Tables + Rows, "verify_truncate");
        using var dir = new TempDir();
        // TRUNCATE is not MVCC-safe: committed after the snapshot, it empties the table for the snapshot's readers too.
        var reporter = new SourceWriteOnPause(source, "TRUNCATE queue; INSERT INTO queue SELECT g, 'after' FROM generate_series(1, 5) g");
        await using var follower = new Follower(source, target, slot, slot, dir.Path, reporter);
        try
        {
            var result = await OnlineVerification.RunAsync(follower, source, target, slot, 2, reporter, CancellationToken.None);

            AssertIdentical(result);
            Assert.Contains(reporter.Lines, l => l.Contains("public.queue after the verification's snapshot", StringComparison.Ordinal));
            Assert.Equal(5L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM queue"));
        }
        finally
        {
            await StopFollowingAsync(follower, source, slot);
        }
    }

    [Fact]
    public async Task Should_Go_On_Applying_While_It_Compares()
    {
        var (source, target, slot) = await FollowingAsync(Tables + Rows, "verify_beside");
        using var dir = new TempDir();
        var applied = false;
        var reporter = new OnFirstTableCompared(() =>
        {
            // The comparison waits here: the row can only reach the target if the apply goes on beside it.
            PgServer.ExecuteAsync(source, "INSERT INTO queue VALUES (1000, 'during')").GetAwaiter().GetResult();
            applied = Eventually.Holds(
                async () => await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM queue WHERE id = 1000") == 1,
                TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(50)).GetAwaiter().GetResult();
        });
        await using var follower = new Follower(source, target, slot, slot, dir.Path, reporter) { Lanes = 2 };
        try
        {
            var result = await OnlineVerification.RunAsync(follower, source, target, slot, 2, reporter, CancellationToken.None);

            Assert.True(applied, "a row inserted on the source while the target was compared reached the target only after the comparison");
            AssertIdentical(result);
            Assert.Equal(101L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM queue"));
        }
        finally
        {
            await StopFollowingAsync(follower, source, slot);
        }
    }

    [Fact]
    public async Task Should_Go_On_Applying_While_A_Long_Source_Transaction_Holds_Up_Its_Snapshot()
    {
        var (source, target, slot) = await FollowingAsync(Tables + Rows, "verify_long_transaction");
        using var dir = new TempDir();
        var reporter = new RecordingReporter();
        await using var follower = new Follower(source, target, slot, slot, dir.Path, reporter) { Lanes = 2 };

        // A slot's snapshot waits for the transactions running when it is asked for.
        await using var open = await OpenTransactionAsync(source);
        try
        {
            var verifying = OnlineVerification.RunAsync(follower, source, target, slot, 2, reporter, CancellationToken.None);
            await PgServer.ExecuteAsync(source, "INSERT INTO queue VALUES (1000, 'while the snapshot waits')");
            await Eventually.True(
                async () => !verifying.IsCompleted && await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM queue WHERE id = 1000") == 1,
                TimeSpan.FromSeconds(30), "the follow stood still while the verification's snapshot waited for a source transaction", TimeSpan.FromMilliseconds(50));

            // No comparison runs yet: a TRUNCATE does not wait for one (the follow must go on to reach the pause).
            await PgServer.ExecuteAsync(source, "TRUNCATE queue");
            await Eventually.True(
                async () => !verifying.IsCompleted && await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM queue") == 0,
                TimeSpan.FromSeconds(30), "a TRUNCATE before the verification's pause waited", TimeSpan.FromMilliseconds(50));
            Assert.False(verifying.IsCompleted);
            await Db.ExecuteAsync(open, "COMMIT", CancellationToken.None);
            var result = await verifying;

            AssertIdentical(result);
        }
        finally
        {
            await StopFollowingAsync(follower, source, slot);
        }
    }

    [Fact]
    public async Task Should_Give_Up_Its_Snapshot_When_A_Cutover_Is_Asked_While_A_Source_Transaction_Holds_It_Up()
    {
        var (source, target, slot) = await FollowingAsync(Tables + Rows, "verify_gives_up");
        using var dir = new TempDir();
        var reporter = new RecordingReporter();
        await using var follower = new Follower(source, target, slot, slot, dir.Path, reporter) { Lanes = 2 };

        // An application's transaction left open: the verification's snapshot waits for it.
        await using var open = await OpenTransactionAsync(source);
        try
        {
            var asked = false;
            var verifying = OnlineVerification.RunUnlessAsync(follower, source, target, slot, 2, reporter, () => Volatile.Read(ref asked), CancellationToken.None);
            await Eventually.True(
                async () => !verifying.IsCompleted && await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(source.Database), $"SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE application_name = 'pgrelocate online verify' AND wait_event_type IS NOT NULL AND state = 'active'") > 0,
                TimeSpan.FromSeconds(30), "the verification's snapshot never waited for the open transaction", TimeSpan.FromMilliseconds(50));

            Volatile.Write(ref asked, true);
            var ended = await Task.WhenAny(verifying, Task.Delay(TimeSpan.FromSeconds(30))) == verifying;

            Assert.True(ended, "the verification went on waiting for the open transaction after the cutover was asked");
            Assert.Null(await verifying);
            Assert.Contains(reporter.Lines, l => l.Contains("The cutover was asked while the verification's snapshot waited", StringComparison.Ordinal));
            // Its temporary slot goes with its session.
            await Eventually.True(
                async () => await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(source.Database), $"SELECT count(*) FROM pg_catalog.pg_replication_slots WHERE slot_name = '{slot}_verify1'") == 0,
                TimeSpan.FromSeconds(10), "the verification's slot stayed on the source", TimeSpan.FromMilliseconds(50));
            await Db.ExecuteAsync(open, "COMMIT", CancellationToken.None);
        }
        finally
        {
            await StopFollowingAsync(follower, source, slot);
        }
    }

    [Fact]
    public async Task Should_Verify_While_The_Follow_Still_Applies_A_Backlog_With_Schema_Changes_In_It()
    {
        var (source, target, slot) = await FollowingAsync(Tables + Rows, "verify_behind");
        using var dir = await NamesAtCopyAsync(source, slot);

        // A table renamed and its name given to a new one, a new table, and rows in many transactions.
        await PgServer.ExecuteAsync(source, "UPDATE queue SET v = 'before the rename' WHERE id <= 50; ALTER TABLE queue RENAME TO jobs; CREATE TABLE queue (id int PRIMARY KEY, v text); INSERT INTO queue VALUES (1, 'new'); CREATE TABLE \"Later Made\" (id int PRIMARY KEY, v text);");
        await using (var conn = await Db.OpenAsync(source, "source", CancellationToken.None))
        {
            for (var i = 0; i < 200; i++)
            {
                await Db.ExecuteAsync(conn, $"INSERT INTO jobs SELECT g, 'row' FROM generate_series({1000 + (i * 50)}, {1049 + (i * 50)}) g; INSERT INTO \"Later Made\" VALUES ({i}, 'x'); UPDATE kept SET id = id + 100 WHERE id = {(i % 10) + 1 + (100 * (i / 10))}", CancellationToken.None);
            }
        }

        var result = await VerifyBehindAsync(source, target, slot, dir, "jobs", "queue", "\"Later Made\"", "kept");

        Assert.Empty(result.SchemaDifferences);
        Assert.Contains(result.Tables, t => t.Name == "public.jobs" && t.SourceRows == 10_100);
        Assert.Contains(result.Tables, t => t.Name == "public.Later Made" && t.SourceRows == 200);
    }

    [Fact]
    public async Task Should_Verify_While_The_Follow_Still_Applies_A_Backlog_Of_Partitions_And_A_Table_Moved_To_Another_Schema()
    {
        const string schema = "CREATE SCHEMA archive; CREATE TABLE events (id int, at date NOT NULL, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at); "
            + "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01'); CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01'); "
            + "CREATE TABLE notes (id int PRIMARY KEY, v text); "
            + "INSERT INTO events SELECT g, DATE '2024-01-01' + (g % 700), 'e' FROM generate_series(1, 2000) g; INSERT INTO notes SELECT g, 'n' FROM generate_series(1, 100) g;";
        var (source, target, slot) = await FollowingAsync(schema, "verify_behind_partitions");
        using var dir = await NamesAtCopyAsync(source, slot);

        // A partition made and filled, one detached and written to, a table moved to another schema with a new table
        // given its name in the old one, rows in both, and updates across the partitions.
        await PgServer.ExecuteAsync(source, "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01'); "
            + "INSERT INTO events SELECT g, DATE '2026-01-01' + (g % 300), 'new' FROM generate_series(3001, 4000) g; "
            + "ALTER TABLE events DETACH PARTITION events_2024; INSERT INTO events_2024 VALUES (9001, '2024-06-01', 'detached'); "
            + "INSERT INTO notes VALUES (101, 'before the move'); ALTER TABLE notes SET SCHEMA archive; CREATE TABLE notes (id int PRIMARY KEY, v text); "
            + "INSERT INTO notes VALUES (1, 'the new one'); INSERT INTO archive.notes SELECT g, 'moved' FROM generate_series(102, 600) g; "
            + "UPDATE events SET v = 'changed' WHERE id % 7 = 0;");

        var result = await VerifyBehindAsync(source, target, slot, dir, "events", "events_2024", "events_2025", "events_2026", "notes", "archive.notes");

        Assert.Contains(result.Tables, t => t.Name == "archive.notes" && t.SourceRows == 600);
        Assert.Contains(result.Tables, t => t.Name == "public.events_2026" && t.SourceRows == 1000);
    }

    [Fact]
    public async Task Should_Hold_A_Truncate_Until_The_Comparison_Is_Done()
    {
        // Sizes order the comparison: child and filler first, side by side, parent last.
        const string tied = "CREATE TABLE parent (id int PRIMARY KEY, v int); CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent, pad text); CREATE TABLE filler (id int PRIMARY KEY, pad text); "
            + "INSERT INTO parent SELECT g, 0 FROM generate_series(1, 20) g; INSERT INTO child SELECT g, 1 + g % 20, repeat('x', 100) FROM generate_series(1, 20000) g; INSERT INTO filler SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g;";
        var (source, target, slot) = await FollowingAsync(tied, "verify_truncate_waits");

        // A row lock on the target keeps the apply just before the TRUNCATE until the comparison has read a table.
        await using var rowLock = await Db.OpenAsync(target, "target", CancellationToken.None);
        await Db.ExecuteAsync(rowLock, "BEGIN; SELECT 1 FROM parent WHERE id = 1 FOR UPDATE", CancellationToken.None);
        var truncateWaited = false;
        var reporter = new OnFirstTableCompared(
            () =>
            {
                Db.ExecuteAsync(rowLock, "COMMIT", CancellationToken.None).GetAwaiter().GetResult();
                // Without the hold, the apply's TRUNCATE would now wait for the comparison's lock on child, and the
                // comparison's read of parent would wait for the TRUNCATE: give it the time to get there.
                truncateWaited = Eventually.Holds(
                    async () => await PgServer.ScalarAsync<long>(servers.Target.Cluster.Superuser(target.Database), "SELECT count(*) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.application_name LIKE 'pgrelocate online apply%'") > 0,
                    TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(50)).GetAwaiter().GetResult();
            },
            onPause: () =>
            {
                PgServer.ExecuteAsync(source, "UPDATE parent SET v = 1 WHERE id = 1").GetAwaiter().GetResult();
                PgServer.ExecuteAsync(source, "TRUNCATE parent CASCADE").GetAwaiter().GetResult();
            });
        using var dir = new TempDir();
        await using var follower = new Follower(source, target, slot, slot, dir.Path, reporter) { Lanes = 2 };
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        try
        {
            var result = await OnlineVerification.RunAsync(follower, source, target, slot, 2, reporter, limit.Token);

            Assert.False(truncateWaited, "the apply's TRUNCATE waited for a lock the comparison held");
            AssertIdentical(result);
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM parent"));
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM child"));
        }
        finally
        {
            await StopFollowingAsync(follower, source, slot);
        }
    }

    [Fact]
    public async Task Should_Give_Way_When_It_Waits_For_A_Table_The_Apply_Altered_Before_A_Truncate_That_Waits_For_It()
    {
        // Sizes order the comparison: big and filler side by side (filler done at once, big read for a few seconds), then altered, then emptied.
        const string sql = "CREATE TABLE big (id int PRIMARY KEY, pad text); CREATE TABLE filler (id int PRIMARY KEY, pad text); CREATE TABLE altered (id int PRIMARY KEY, v text); CREATE TABLE emptied (id int PRIMARY KEY); "
            + "INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 600000) g; INSERT INTO filler SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g; "
            + "INSERT INTO altered SELECT g, 'v' FROM generate_series(1, 500) g; INSERT INTO emptied SELECT generate_series(1, 10); ANALYZE;";
        var (source, target, slot) = await FollowingAsync(sql, "verify_gives_way_on_target");
        var superuser = servers.Target.Cluster.Superuser(target.Database);
        var reporter = new OnFirstTableCompared(() =>
        {
            // While big is still read: one source transaction alters a table the comparison has still to read, then
            // truncates another. The apply takes the altered table's lock in its open group, then its TRUNCATE waits
            // for the comparison, which comes to the altered table next.
            PgServer.ExecuteAsync(source, "BEGIN; ALTER TABLE altered ADD COLUMN note text DEFAULT 'n'; INSERT INTO altered VALUES (1000, 'new', 'added'); TRUNCATE emptied; COMMIT").GetAwaiter().GetResult();
            Assert.True(
                Eventually.Holds(
                    async () => await PgServer.ScalarAsync<long>(superuser, $"SELECT count(*) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a USING (pid) WHERE l.relation = 'public.altered'::regclass AND l.mode = 'AccessExclusiveLock' AND l.granted AND a.application_name LIKE '{FollowSession.ApplyApplicationName}%'") > 0,
                    TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20)).GetAwaiter().GetResult(),
                "the apply did not alter the table");
        });
        using var dir = new TempDir();
        await using var follower = new Follower(source, target, slot, slot, dir.Path, reporter) { Lanes = 2 };
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            var result = await OnlineVerification.RunAsync(follower, source, target, slot, 2, reporter, limit.Token);

            AssertIdentical(result);
            Assert.True(reporter.Lines.Any(l => l.Contains("the verification's read of a table on the target waits for a lock the follow's apply holds", StringComparison.Ordinal) && l.Contains("gives way", StringComparison.Ordinal)), string.Join("\n", reporter.Lines));
            Assert.Equal(501L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM altered WHERE note IS NOT NULL"));
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM emptied"));
        }
        finally
        {
            await StopFollowingAsync(follower, source, slot);
        }
    }

    [Fact]
    public async Task Should_Compare_At_The_Snapshot_Taken_As_The_Copys_Rows_Were_In_Before_The_Follow_Reaches_The_Source()
    {
        var (source, target, slot) = await FollowingAsync(Tables + Rows, "verify_first");
        using var dir = await NamesAtCopyAsync(source, slot);
        var reporter = new RecordingReporter();
        // Written after the copy's position and before the snapshot: the comparison proves them applied.
        await PgServer.ExecuteAsync(source, "UPDATE queue SET v = 'during the copy' WHERE id % 3 = 0; DELETE FROM queue WHERE id > 90; INSERT INTO kept SELECT generate_series(11, 500);");
        await using var first = await FirstSnapshotAsync(source, slot, reporter);
        // Written after the snapshot: the follow applies them after its pause.
        var before = await WalPositionAsync(source);
        for (var i = 0; i < 50; i++)
        {
            await PgServer.ExecuteAsync(source, $"INSERT INTO queue VALUES ({1000 + i}, 'after'); UPDATE kept SET id = id + 1000 WHERE id = {i + 1}");
        }

        var end = await WalPositionAsync(source);

        await using var follower = new Follower(source, target, slot, slot, dir.Path, reporter) { Lanes = 2 };
        try
        {
            var result = await OnlineVerification.RunUnlessAsync(follower, source, target, slot, 2, reporter, () => false, CancellationToken.None, first);

            AssertIdentical(result!);
            Assert.Contains(result!.Tables, t => t.Name == "public.kept" && t.SourceRows == 500);
            var paused = Assert.Single(reporter.Lines, l => l.Contains("Verifying while following: the apply paused at ", StringComparison.Ordinal));
            var at = NpgsqlTypes.NpgsqlLogSequenceNumber.Parse(paused.Split("paused at ")[1].Split(',')[0]);
            Assert.True(at <= before, $"the apply paused at {at}, after the changes made since the snapshot (from {before})");
            Assert.Single(reporter.Lines, l => l.Contains("Taking a snapshot of the source", StringComparison.Ordinal));
            await follower.RunAsync(p => p.CaughtUp && p.Received >= end, CancellationToken.None);
            foreach (var table in new[] { "queue", "kept" })
            {
                Assert.Equal(await DatabaseSnapshot.RowsDigestAsync(source, table), await DatabaseSnapshot.RowsDigestAsync(target, table));
            }
        }
        finally
        {
            await StopFollowingAsync(follower, source, slot);
        }
    }

    [Fact]
    public async Task Should_Take_Another_Snapshot_When_Tables_Made_Before_The_Copys_Are_Carried_After_It()
    {
        var (source, target, slot) = await FollowingAsync(Tables + Rows, "verify_first_carried");
        using var dir = await NamesAtCopyAsync(source, slot);
        var reporter = new RecordingReporter();
        // Made after the copy's position: the follow carries it at a marker, after the first snapshot's position.
        await PgServer.ExecuteAsync(source, "CREATE TABLE \"Made During\" (id int PRIMARY KEY, v text); INSERT INTO \"Made During\" SELECT g, 'm' FROM generate_series(1, 40) g;");
        await using var first = await FirstSnapshotAsync(source, slot, reporter);
        await using var follower = new Follower(source, target, slot, slot, dir.Path, reporter) { Lanes = 2 };
        try
        {
            var result = await OnlineVerification.RunUnlessAsync(follower, source, target, slot, 2, reporter, () => false, CancellationToken.None, first);

            AssertIdentical(result!);
            Assert.Contains(result!.Tables, t => t.Name == "public.Made During" && t.SourceRows == 40);
            // Let go before comparing, not compared and then again.
            Assert.Single(reporter.Lines, l => l.Contains("Verifying while following: the apply paused at ", StringComparison.Ordinal));
            Assert.Equal(2, reporter.Lines.Count(l => l.Contains("Taking a snapshot of the source", StringComparison.Ordinal)));
        }
        finally
        {
            await StopFollowingAsync(follower, source, slot);
        }
    }

    /// <summary>The first verification's snapshot as the snapshot copy takes it, once its slot is created on the source.</summary>
    private async Task<FirstVerificationSnapshot> FirstSnapshotAsync(PgConnectionInfo source, string slot, IReporter reporter)
    {
        var first = FirstVerificationSnapshot.Begin(source, slot, () => false, reporter, CancellationToken.None);
        await Eventually.True(
            async () => await PgServer.ScalarAsync<long>(servers.Source.Cluster.Superuser(source.Database), $"SELECT count(*) FROM pg_catalog.pg_replication_slots WHERE slot_name = '{slot}_verify0'") == 1,
            TimeSpan.FromSeconds(30), "the first verification's slot was never created", TimeSpan.FromMilliseconds(50));
        return first;
    }

    private static async Task<NpgsqlTypes.NpgsqlLogSequenceNumber> WalPositionAsync(PgConnectionInfo source) =>
        NpgsqlTypes.NpgsqlLogSequenceNumber.Parse((await PgServer.ScalarAsync<string>(source, "SELECT pg_catalog.pg_current_wal_lsn()::text"))!);

    /// <summary>A source and a target database made by the same SQL, followed as the snapshot copy leaves them.</summary>
    private async Task<(PgConnectionInfo Source, PgConnectionInfo Target, string Slot)> FollowingAsync(string sql, string database)
    {
        var source = await servers.SourceAsync(sql);
        var target = await servers.Target.CreateDatabaseAsync(database);
        await PgServer.ExecuteAsync(target, sql);
        var slot = OnlineNames.Slot(database + "_" + Guid.NewGuid().ToString("N")[..8]);
        await StartFollowingAsync(source, target, slot);
        return (source, target, slot);
    }

    /// <summary>The follow's folder with the tables' names noted as the snapshot copy notes them, so that a rename is told from a new table.</summary>
    private static async Task<TempDir> NamesAtCopyAsync(PgConnectionInfo source, string slot)
    {
        var dir = new TempDir();
        await using var conn = await Db.OpenAsync(source, "source", CancellationToken.None);
        await CarriedNames.NoteAtCopyAsync(conn, slot, dir.Path, CancellationToken.None);
        return dir;
    }

    /// <summary>
    /// The verification with the follow starting at it, behind what the source did since the copy (a migration starts
    /// it within a minute of the source): its snapshot comes after all of that, which the follow applies before it
    /// reaches the pause. Asserted identical, then followed to the end, and <paramref name="tables"/>' rows compared on
    /// both sides by plain SQL.
    /// </summary>
    private static async Task<PgRelocate.Verify.VerificationResult> VerifyBehindAsync(PgConnectionInfo source, PgConnectionInfo target, string slot, TempDir dir, params string[] tables)
    {
        var reporter = new RecordingReporter();
        await using var follower = new Follower(source, target, slot, slot, dir.Path, reporter) { Lanes = 2 };
        try
        {
            var result = await OnlineVerification.RunAsync(follower, source, target, slot, 2, reporter, CancellationToken.None);

            AssertIdentical(result);
            await follower.RunAsync(p => p.CaughtUp, CancellationToken.None);
            foreach (var table in tables)
            {
                Assert.Equal(await DatabaseSnapshot.RowsDigestAsync(source, table), await DatabaseSnapshot.RowsDigestAsync(target, table));
            }

            return result;
        }
        finally
        {
            await StopFollowingAsync(follower, source, slot);
        }
    }

    /// <summary>A session on the source holding a transaction that has written (so it has an id the slot's snapshot waits for).</summary>
    private static async Task<Npgsql.NpgsqlConnection> OpenTransactionAsync(PgConnectionInfo source)
    {
        var open = await Db.OpenAsync(source, "source", CancellationToken.None);
        await Db.ExecuteAsync(open, "BEGIN; INSERT INTO kept VALUES (999)", CancellationToken.None);
        return open;
    }

    private static void AssertIdentical(PgRelocate.Verify.VerificationResult result) =>
        Assert.True(result.Tables.All(t => t.Equal), string.Join(", ", result.Tables.Where(t => !t.Equal).Select(t => $"{t.Name} {t.SourceRows}/{t.TargetRows}")));

    /// <summary>Closes the follow's session (it keeps the slot active), then removes the slot and the publication.</summary>
    private static async Task StopFollowingAsync(Follower follower, PgConnectionInfo source, string slot)
    {
        await follower.DisposeAsync();
        await SourceSide.RemoveAsync(source, slot, slot, [], CancellationToken.None);
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

    /// <summary>
    /// Runs an action once, when the comparison has finished its first table (holding the comparison up while
    /// it runs), and another, once, as the apply is about to pause for a verification; records what is said.
    /// </summary>
    private sealed class OnFirstTableCompared(Action compared, Action? onPause = null) : IReporter
    {
        private readonly RecordingReporter _lines = new();
        private int _compared;
        private int _paused;

        public IReadOnlyList<string> Lines => _lines.Lines;

        public void Log(LogLevel level, string message)
        {
            _lines.Log(level, message);
            if (onPause is not null && message.StartsWith("Verifying while following", StringComparison.Ordinal) && Interlocked.Exchange(ref _paused, 1) == 0)
            {
                onPause();
            }
        }

        public void Progress(ProgressUpdate update)
        {
            if (update.Unit == "tables" && update.Done >= 1 && !update.Finished && Interlocked.Exchange(ref _compared, 1) == 0)
            {
                compared();
            }
        }
    }
}
