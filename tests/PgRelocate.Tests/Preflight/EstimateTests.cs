using System.Text.Json;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// check's estimate against real servers: it measures and predicts every path, writes a scratch table (rolled back)
/// only on an empty target or one --confirm names, is skipped by --no-estimate, says what it leaves out when the
/// source's role may not read the WAL position, and sees the source's writes.
/// </summary>
public class EstimateTests(PreflightServer server, Pg17Server other) : IClassFixture<PreflightServer>, IClassFixture<Pg17Server>
{
    [Fact]
    public async Task Should_Measure_And_Predict_Every_Path_Writing_An_Empty_Target_And_Leave_Nothing()
    {
        var source = await SourceAsync();
        var target = await server.CreateDatabaseAsync("est_dst");

        var (result, estimate) = await CheckAsync("--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--estimate-seconds", "3");

        Assert.True(result.ExitCode is 0 or 3, result.ToString());
        foreach (var field in new[] { "copySeconds", "dumpRestoreSeconds", "stagedSeconds", "offlineDowntimeSeconds", "sourceReadBytesPerSecond", "targetWriteBytesPerSecond", "sourceWalBytesPerSecond", "slotWalBytesAtCatchUp", "onlineDowntimeSeconds" })
        {
            Assert.True(estimate.TryGetProperty(field, out var value) && value.GetDouble() >= 0, $"{field} missing: {estimate}");
        }

        Assert.True(estimate.GetProperty("copySeconds").GetDouble() > 0, estimate.ToString());
        Assert.True(estimate.GetProperty("measuredSeconds").GetDouble() <= 4.5, estimate.ToString());
        Assert.Contains(Basis(estimate), b => b.StartsWith("target write: ", StringComparison.Ordinal) && b.Contains("rolled back", StringComparison.Ordinal));
        // The B-tree's size read too: an index of another kind counts by its size.
        Assert.Contains(Basis(estimate), b => System.Text.RegularExpressions.Regex.IsMatch(b, @"^index build: a B-tree over \d+ rows \([0-9.]+ [kMG]?B\) in "));
        // The schema's dump timed, and counted in the copy's time.
        Assert.Contains(Basis(estimate), b => b.StartsWith("schema: pg_dump --schema-only of the source in ", StringComparison.Ordinal));
        Assert.Contains(Basis(estimate), b => b.StartsWith("direct copy: ", StringComparison.Ordinal) && b.Contains("the schema's dump and restore", StringComparison.Ordinal));
        Assert.False(string.IsNullOrEmpty(estimate.GetProperty("recommendedPath").GetString()));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgrelocate_online'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"));
    }

    /// <summary>
    /// Small tables (names with spaces and quotes among them) are sampled by copying them, their indexes and ANALYZE
    /// into scratch tables, rolled back; the copy counts them at that cost, apart from the large table's bytes. One of
    /// a type the scratch table cannot take, and one whose first column no B-tree takes, are left out, the rest still
    /// sampled and the lane's measures kept.
    /// </summary>
    [Fact]
    public async Task Should_Sample_Small_Tables_And_Count_Them_Apart()
    {
        var source = await SourceAsync();
        await PgServer.ExecuteAsync(source, """
            CREATE TYPE mood AS ENUM ('calm', 'busy');
            CREATE TABLE "a mood" (m mood);
            INSERT INTO "a mood" VALUES ('calm');
            CREATE TABLE "b ""json"" doc" (doc json, id int PRIMARY KEY);
            INSERT INTO "b ""json"" doc" VALUES ('{}', 1);
            DO $$
            DECLARE n text;
            BEGIN
                FOR g IN 1..29 LOOP
                    n := 'small "' || g || '" table';
                    EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, name text); CREATE INDEX ON %I (name); INSERT INTO %I VALUES (1, ''a''), (2, ''b'')', n, n, n);
                END LOOP;
            END $$;
            ANALYZE;
            """);
        var target = await server.CreateDatabaseAsync("est_small_dst");

        var (_, estimate) = await CheckAsync("--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--estimate-seconds", "3");

        Assert.Contains(Basis(estimate), b => b.StartsWith("small tables: 20 of the 31 of at most 64 kB copied into scratch tables", StringComparison.Ordinal));
        Assert.Contains(Basis(estimate), b => b.StartsWith("direct copy: ", StringComparison.Ordinal) && b.Contains("(1 tables, 0 large objects), 31 small tables ", StringComparison.Ordinal));
        Assert.True(estimate.TryGetProperty("targetWriteBytesPerSecond", out _), estimate.ToString());
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgrelocate_online'"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"));
    }

    /// <summary>
    /// A target holding data, without --confirm: its marker rows stay, and an event trigger that refuses any DDL (outside
    /// our code) is never fired. With --confirm naming it, the same trigger refuses the scratch table: the write is tried.
    /// </summary>
    [Fact]
    public async Task Should_Never_Write_A_Target_That_Holds_Data_Without_Confirm()
    {
        var source = await SourceAsync();
        var target = await MarkerTable.TargetWithRowsAsync(server, "est_full");
        await server.ExecuteAsync(target.Database, """
            CREATE FUNCTION refuse_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'DDL on the target refused'; END$$;
            CREATE EVENT TRIGGER refuse_ddl ON ddl_command_start EXECUTE FUNCTION refuse_ddl();
            """);

        var (_, unconfirmed) = await CheckAsync("--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--estimate-seconds", "3");
        var (_, confirmed) = await CheckAsync("--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--estimate-seconds", "3", "--confirm", target.Database);

        Assert.Contains(Basis(unconfirmed), b => b.Contains("the target holds data", StringComparison.Ordinal) && b.Contains("--confirm does not name it", StringComparison.Ordinal));
        Assert.DoesNotContain(Basis(unconfirmed), b => b.Contains("DDL on the target refused", StringComparison.Ordinal));
        Assert.False(unconfirmed.TryGetProperty("targetWriteBytesPerSecond", out _), unconfirmed.ToString());
        Assert.Contains(Basis(confirmed), b => b.Contains("DDL on the target refused", StringComparison.Ordinal));
        await MarkerTable.AssertUntouchedAsync(target);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgrelocate_online'"));
    }

    [Fact]
    public async Task Should_Measure_Nothing_With_No_Estimate()
    {
        var source = await SourceAsync();
        var target = await server.CreateDatabaseAsync("est_none");

        var result = await CliRunner.RunAsync(["--json", "check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--no-estimate"]);

        Assert.True(result.ExitCode is 0 or 3, result.ToString());
        using var doc = JsonDocument.Parse(result.Stdout);
        Assert.False(doc.RootElement.TryGetProperty("estimate", out _), result.Stdout);
        Assert.True(doc.RootElement.GetProperty("checks").GetArrayLength() > 0);
    }

    /// <summary>pg_current_wal_lsn revoked from PUBLIC in the source's database: the WAL predictions are left out, said, the rest stands.</summary>
    [Fact]
    public async Task Should_Say_What_It_Left_Out_When_The_Source_May_Not_Read_The_Wal_Position()
    {
        var source = await SourceAsync();
        await server.ExecuteAsync(source.Database, "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_current_wal_lsn() FROM PUBLIC");

        var (result, estimate) = await CheckAsync("--source", CliRunner.Url(source), "--estimate-seconds", "2");

        Assert.True(result.ExitCode is 0 or 3, result.ToString());
        Assert.False(estimate.TryGetProperty("sourceWalBytesPerSecond", out _), estimate.ToString());
        Assert.False(estimate.TryGetProperty("slotWalBytesAtCatchUp", out _), estimate.ToString());
        Assert.False(estimate.TryGetProperty("catchUpSeconds", out _), estimate.ToString());
        Assert.Contains(Basis(estimate), b => b.StartsWith("source WAL: left out, the source's role may not read the WAL position", StringComparison.Ordinal));
        Assert.True(estimate.GetProperty("copySeconds").GetDouble() > 0, estimate.ToString());
    }

    /// <summary>
    /// An application inserting rows all along at a steady pace: the WAL rate is above zero and its table is the
    /// busiest; its steady rate settles, so the measurement ends long before its budget of a minute, and the basis says
    /// why. Paced (a batch every 10 ms), not flat out: a writer as fast as the machine lets it writes as unevenly as the
    /// machine's load, which the other tests running beside it make uneven.
    /// </summary>
    [Fact]
    public async Task Should_Measure_The_Sources_Wal_And_Busiest_Table_While_It_Is_Written()
    {
        var source = await SourceAsync();
        await PgServer.ExecuteAsync(source, "CREATE TABLE w (id bigserial PRIMARY KEY, v text)");

        var (result, estimate) = await CheckWhileWritingAsync(source, _ => "INSERT INTO w (v) SELECT repeat('y', 100) FROM generate_series(1, 50)", TimeSpan.FromMilliseconds(10), "--source", CliRunner.Url(source), "--estimate-seconds", "60");

        Assert.True(result.ExitCode is 0 or 3, result.ToString());
        Assert.True(estimate.GetProperty("sourceWalBytesPerSecond").GetDouble() > 0, estimate.ToString());
        Assert.Equal("public.w", estimate.GetProperty("busiestTables")[0].GetProperty("table").GetString());
        var wal = Basis(estimate).Single(b => b.StartsWith("source WAL: ", StringComparison.Ordinal));
        Assert.EndsWith(", where its rate had settled.", wal, StringComparison.Ordinal);
        Assert.True(estimate.GetProperty("measuredSeconds").GetDouble() < 57, estimate.ToString());
    }

    /// <summary>
    /// A source checkpointed before each round of writes, whose every change then writes its page whole first: most of
    /// its WAL is full-page images, which the follow has nothing to apply of. The basis says their share from
    /// pg_stat_wal.
    /// </summary>
    [Fact]
    public async Task Should_Count_The_Sources_Full_Page_Images_Apart_From_Its_Changes()
    {
        var source = await SourceAsync();
        await server.ExecuteAsync(source.Database, $"GRANT pg_checkpoint TO \"{source.User}\"");
        // The harness's clusters write no full-page images: this one does for this test, as a real server does.
        await server.ExecuteAsync(source.Database, "ALTER SYSTEM SET full_page_writes = on; SELECT pg_reload_conf()");
        (CliResult Result, JsonElement Estimate) checkedOut;
        try
        {
            checkedOut = await CheckWhileWritingAsync(source, k => $"CHECKPOINT; UPDATE t SET v = v WHERE id % 40 = {k % 40}", TimeSpan.FromMilliseconds(50), "--source", CliRunner.Url(source), "--estimate-seconds", "4");
        }
        finally
        {
            await server.ExecuteAsync(source.Database, "ALTER SYSTEM RESET full_page_writes; SELECT pg_reload_conf()");
        }

        var (result, estimate) = checkedOut;

        Assert.True(result.ExitCode is 0 or 3, result.ToString());
        var wal = Basis(estimate).Single(b => b.StartsWith("full-page images: ", StringComparison.Ordinal));
        var share = System.Text.RegularExpressions.Regex.Match(wal, @"^full-page images: about (\d+)% of the source's WAL \(pg_stat_wal: \d+ of [0-9.]+ kB\), each page written whole by its first change after a checkpoint: the slot holds them, the follow decodes the other [0-9.]+ [kMG]?B/s, the changes\.$");
        Assert.True(share.Success, wal);
        Assert.True(int.Parse(share.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 50, wal);
    }

    /// <summary>
    /// A source that writes a few kB a second, more each time (background writes: a rate that never settles within a
    /// tenth), is watched for three seconds, not to the end of the budget: that little changes no prediction.
    /// </summary>
    [Fact]
    public async Task Should_Stop_Watching_A_Wal_Too_Slight_To_Change_The_Catch_Up()
    {
        var source = await SourceAsync();
        await PgServer.ExecuteAsync(source, "CREATE TABLE trickle (id bigserial PRIMARY KEY, v text)");

        // Text that does not compress: its WAL grows with k.
        var (result, estimate) = await CheckWhileWritingAsync(source, k => $"INSERT INTO trickle (v) SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, {k * 2}) g", TimeSpan.FromMilliseconds(200), "--source", CliRunner.Url(source), "--estimate-seconds", "20");

        Assert.True(result.ExitCode is 0 or 3, result.ToString());
        var wal = Basis(estimate).Single(b => b.StartsWith("source WAL: ", StringComparison.Ordinal));
        Assert.EndsWith(", stopped there: under a thousandth of a lane's rate, too little to change the catch-up.", wal, StringComparison.Ordinal);
        Assert.True(WalWatched(estimate) < 6, wal);
        Assert.True(estimate.GetProperty("measuredSeconds").GetDouble() < 12, estimate.ToString());
    }

    /// <summary>
    /// The target's sample writes a scratch table of a 500,000-row table's rows: on the source's own server that WAL
    /// is its, and the watch on the source's WAL leaves the sample's time out (the rate stays that of an idle source);
    /// on another server it is not, and the watch goes on through the sample.
    /// </summary>
    [Fact]
    public async Task Should_Watch_The_Sources_Wal_Through_The_Targets_Sample_Only_When_The_Target_Is_Another_Server()
    {
        var source = await server.CreateDatabaseAsync("est_wal");
        await PgServer.ExecuteAsync(source, "CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 500000) g");
        // Its hint bits set now, so that the estimate's reads of it write no WAL of their own.
        await PgServer.ExecuteAsync(source, "VACUUM ANALYZE big");
        var sameServer = await server.CreateDatabaseAsync("est_wal_dst");
        var otherServer = await other.CreateDatabaseAsync("est_wal_dst");

        var (_, same) = await CheckAsync("--source", CliRunner.Url(source), "--target", CliRunner.Url(sameServer), "--estimate-seconds", "4");
        var (_, apart) = await CheckAsync("--source", CliRunner.Url(source), "--target", CliRunner.Url(otherServer), "--estimate-seconds", "4");

        var (sameWatched, sameSample) = (WalWatched(same), SampleSeconds(same));
        var (apartWatched, apartSample) = (WalWatched(apart), SampleSeconds(apart));
        Assert.True(sameSample > 0.2 && apartSample > 0.2, $"{same}\n{apart}");
        // The sample's rows are over 100 MB of WAL: counted on the same server, the rate would be tens of MB a second.
        Assert.True(same.GetProperty("sourceWalBytesPerSecond").GetDouble() < 5_000_000, same.ToString());
        // Left out, the sample's time (and its index and ANALYZE after it) is missing from the watch; watched through, it is not.
        Assert.True(sameWatched < same.GetProperty("measuredSeconds").GetDouble() - sameSample, same.ToString());
        Assert.True(apartWatched > apart.GetProperty("measuredSeconds").GetDouble() - apartSample, apart.ToString());
    }

    /// <summary>
    /// A source with foreign keys: one check is played on the scratch table (a hash anti-join, rolled back with it), and
    /// each foreign key counted once: a partitioned table's (its partitions' are made with it), a table's reference to
    /// itself, two of one table.
    /// </summary>
    [Fact]
    public async Task Should_Sample_A_Foreign_Key_Check_And_Count_Each_Foreign_Key_Once()
    {
        var source = await SourceAsync();
        await PgServer.ExecuteAsync(source, """
            CREATE TABLE "Parted Child" (id int, t_id int REFERENCES t, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TABLE "Parted Child 2025" PARTITION OF "Parted Child" FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            CREATE TABLE "Parted Child 2026" PARTITION OF "Parted Child" FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            INSERT INTO "Parted Child" SELECT g, g, date '2025-01-01' + g % 700 FROM generate_series(1, 5000) g;
            CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree, t_id int REFERENCES t, other int REFERENCES t);
            INSERT INTO tree SELECT g, NULLIF(g - 1, 0), g, g FROM generate_series(1, 3000) g;
            ANALYZE;
            """);
        var target = await server.CreateDatabaseAsync("est_fk_dst");

        var (_, estimate) = await CheckAsync("--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--estimate-seconds", "3");

        Assert.Contains(Basis(estimate), b => System.Text.RegularExpressions.Regex.IsMatch(b, @"^foreign keys' checks: \d+ rows of the scratch table checked against themselves .*\(a hash anti-join\) in "));
        Assert.Contains(Basis(estimate), b => b.StartsWith("direct copy: ", StringComparison.Ordinal) && System.Text.RegularExpressions.Regex.IsMatch(b, @"the foreign keys' checks [0-9.]+ s \(1, 2 at once, one table's one after another\); 3 more checked with the builds, each once both its tables are complete and the rows in"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgrelocate_online'"));
    }

    /// <summary>A small source fits an hour's budget offline; a budget or a bound that is not one is refused before anything is read (exit 2).</summary>
    [Fact]
    public async Task Should_Recommend_Offline_Within_The_Budget_And_Refuse_A_Bad_Budget()
    {
        var source = await SourceAsync();

        var (_, estimate) = await CheckAsync("--source", CliRunner.Url(source), "--estimate-seconds", "2", "--max-downtime", "1h");
        var badBudget = await CliRunner.RunAsync(["check", "--source", CliRunner.Url(source), "--max-downtime", "soon"]);
        var badBound = await CliRunner.RunAsync(["check", "--source", CliRunner.Url(source), "--estimate-seconds", "0"]);

        Assert.StartsWith("offline ", estimate.GetProperty("recommendedPath").GetString(), StringComparison.Ordinal);
        Assert.Contains("fits --max-downtime 1h00m", estimate.GetProperty("why").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, badBudget.ExitCode);
        Assert.Contains("--max-downtime 'soon' is not a duration", badBudget.Output, StringComparison.Ordinal);
        Assert.Equal(2, badBound.ExitCode);
        Assert.Contains("--estimate-seconds must be between 1 and 3600", badBound.Output, StringComparison.Ordinal);
    }

    private async Task<PgConnectionInfo> SourceAsync()
    {
        var source = await server.CreateDatabaseAsync("est_src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g; ANALYZE t");
        return source;
    }

    /// <summary>check's estimate while a session writes the source: the <paramref name="statement"/> of its k-th round (from 1), then a <paramref name="pause"/>, until the check ends.</summary>
    private static async Task<(CliResult Result, JsonElement Estimate)> CheckWhileWritingAsync(PgConnectionInfo source, Func<int, string> statement, TimeSpan pause, params string[] args)
    {
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            await using var conn = new NpgsqlConnection(source.ToNpgsqlConnectionString());
            await conn.OpenAsync();
            for (var k = 1; !stop.IsCancellationRequested; k++)
            {
                await using var cmd = new NpgsqlCommand(statement(k), conn);
                await cmd.ExecuteNonQueryAsync();
                await Task.Delay(pause);
            }
        });
        try
        {
            return await CheckAsync(args);
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }
    }

    private static async Task<(CliResult Result, JsonElement Estimate)> CheckAsync(params string[] args)
    {
        var result = await CliRunner.RunAsync(["--json", "check", .. args]);
        Assert.True(result.ExitCode is 0 or 3, result.ToString());
        using var doc = JsonDocument.Parse(result.Stdout);
        Assert.True(doc.RootElement.TryGetProperty("estimate", out var estimate), result.ToString());
        return (result, estimate.Clone());
    }

    /// <summary>The seconds the basis says the source's WAL was watched.</summary>
    private static double WalWatched(JsonElement estimate) =>
        Seconds(Basis(estimate).Single(b => b.StartsWith("source WAL: ", StringComparison.Ordinal)), @"pg_current_wal_lsn over ([0-9.]+) s");

    /// <summary>The seconds the basis says the target's sample took.</summary>
    private static double SampleSeconds(JsonElement estimate) =>
        Seconds(Basis(estimate).Single(b => b.StartsWith("target write: ", StringComparison.Ordinal)), @"rows in ([0-9.]+) s");

    private static double Seconds(string line, string pattern) =>
        double.Parse(System.Text.RegularExpressions.Regex.Match(line, pattern) is { Success: true } m ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException(line), System.Globalization.CultureInfo.InvariantCulture);

    private static List<string> Basis(JsonElement estimate) => [.. estimate.GetProperty("basis").EnumerateArray().Select(b => b.GetString()!)];
}
