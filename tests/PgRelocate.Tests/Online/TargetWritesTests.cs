using PgRelocate.Online.Apply;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// How the apply writes rows (<see cref="TargetWrites"/>), on a real target: many UPDATEs that keep their key
/// and runs of DELETEs go as a few statements, and the rows end as the changes say, whatever the values and
/// names. The expected rows are built here from the changes themselves, not read back through the tool.
/// </summary>
public class TargetWritesTests(PgServer server) : IClassFixture<PgServer>
{
    private const string Schema = """
        CREATE SCHEMA "Sch ""q"".é";
        CREATE TABLE "Sch ""q"".é"."Wide t" ("Id" int, at date, "Doc" text, j jsonb, b bytea, a text[], n numeric, ts timestamptz,
                                            PRIMARY KEY ("Id", at));
        CREATE TABLE events (id bigint, at date, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE statements (verb text);
        CREATE FUNCTION count_statement() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.statements VALUES (TG_OP); RETURN NULL; END $$;
        CREATE TRIGGER counted AFTER UPDATE OR DELETE ON "Sch ""q"".é"."Wide t" FOR EACH STATEMENT EXECUTE FUNCTION public.count_statement();
        INSERT INTO "Sch ""q"".é"."Wide t" SELECT g, DATE '2024-01-01' + g, repeat('doc ' || g, 1000), NULL, NULL, NULL, g, NULL FROM generate_series(1, 1000) g;
        INSERT INTO events SELECT g, DATE '2024-01-01' + (g % 700), 'e' || g FROM generate_series(1, 300) g;
        """;

    [Fact]
    public async Task Should_Apply_Many_Updates_And_Runs_Of_Deletes_As_Few_Statements_With_The_Rows_As_The_Changes_Say()
    {
        var db = await server.CreateDatabaseAsync("writes");
        await PgServer.ExecuteAsync(db, Schema);
        var expected = new SortedDictionary<int, string?[]>();
        for (var id = 1; id <= 1000; id++)
        {
            expected[id] = [Text(id), Date(id), string.Concat(Enumerable.Repeat("doc " + id, 1000)), null, null, null, Text(id), null];
        }

        await using var conn = await OpenAsync(db);
        var wide = await DescribeAsync(conn, "Sch \"q\".é", "Wide t");
        var events = await DescribeAsync(conn, "public", "events");
        await using (var tx = await conn.BeginTransactionAsync())
        {
            var writes = new TargetWrites(conn);
            writes.Begin(tx);

            // 900 UPDATEs keeping their key: even rows rewrite the TOASTed "Doc", odd ones leave it unchanged
            // (two sets of columns, so two statements); rows 101-110 are updated twice, the later values win.
            foreach (var round in new[] { 1, 2 })
            {
                foreach (var id in Enumerable.Range(101, round == 1 ? 900 : 10))
                {
                    string?[] values = [Text(id), Date(id), id % 2 == 0 ? $"new\tdoc\n{id}\\" : null, $$"""{"k": {{id}}, "s": "x\ty"}""", @"\x0a0b" + (id % 256).ToString("x2"), $$"""{"a b",NULL,"q\"uote{{round}}"}""", id % 7 == 0 ? null : $"{id}.{round}5", "2024-02-29 12:00:00+00"];
                    var unchanged = new bool[8];
                    unchanged[2] = id % 2 == 1;
                    await writes.UpdateAsync(wide, new UpdateChange(wide.Source, null, false, new RowValues(values, unchanged)), CancellationToken.None);
                    expected[id] = [.. values.Select((v, i) => unchanged[i] ? expected[id][i] : v)];
                }
            }

            // A run of 100 DELETEs by key (one statement), 50 of the rows inserted again (COPY), then 10 of
            // them deleted again (a short run: a statement each).
            foreach (var id in Enumerable.Range(1, 100))
            {
                await writes.DeleteAsync(wide, new DeleteChange(wide.Source, Key(id), false), CancellationToken.None);
                expected.Remove(id);
            }

            foreach (var id in Enumerable.Range(1, 50))
            {
                string?[] values = [Text(id), Date(id), "again " + id, "[]", null, "{}", "0", null];
                await writes.InsertAsync(wide, new RowValues(values, new bool[8]), CancellationToken.None);
                expected[id] = values;
            }

            foreach (var id in Enumerable.Range(1, 10))
            {
                await writes.DeleteAsync(wide, new DeleteChange(wide.Source, Key(id), false), CancellationToken.None);
                expected.Remove(id);
            }

            // A partitioned table: UPDATEs through its root, then a run of DELETEs across its partitions.
            foreach (var id in Enumerable.Range(1, 100))
            {
                await writes.UpdateAsync(events, new UpdateChange(events.Source, null, false, new RowValues([Text(id), EventDate(id), "changed " + id], new bool[3])), CancellationToken.None);
            }

            foreach (var id in Enumerable.Range(201, 30))
            {
                await writes.DeleteAsync(events, new DeleteChange(events.Source, new RowValues([Text(id), EventDate(id), null], new bool[3]), false), CancellationToken.None);
            }

            await writes.SendAllAsync(CancellationToken.None);
            await tx.CommitAsync();
        }

        var rows = await RowsAsync(db, """SELECT ARRAY["Id"::text, at::text, "Doc", j::text, b::text, a::text, n::text, ts::text] FROM "Sch ""q"".é"."Wide t" ORDER BY "Id" """);
        Assert.Equal(expected.Count, rows.Count);
        foreach (var (row, (id, values)) in rows.Zip(expected))
        {
            Assert.True(values.SequenceEqual(row), $"row {id}: expected [{string.Join(" | ", values)}], found [{string.Join(" | ", row)}]");
        }

        Assert.Equal(2L, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM statements WHERE verb = 'UPDATE'"));
        Assert.Equal(1L + 10, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM statements WHERE verb = 'DELETE'"));
        Assert.Equal(270L, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM events"));
        Assert.Equal(100L, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM events WHERE what = 'changed ' || id"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM events WHERE id BETWEEN 201 AND 230"));
    }

    [Theory]
    [InlineData("UPDATE")]
    [InlineData("DELETE")]
    public async Task Should_Stop_When_Rows_Changed_Together_Are_Missing_On_The_Target(string verb)
    {
        var db = await server.CreateDatabaseAsync("missing");
        await PgServer.ExecuteAsync(db, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 100) g;");
        await using var conn = await OpenAsync(db);
        var table = await DescribeAsync(conn, "public", "t");
        await using var tx = await conn.BeginTransactionAsync();
        var writes = new TargetWrites(conn);
        writes.Begin(tx);
        // 50 rows of which 5 (96-100 exist, 101-105 do not) are missing.
        foreach (var id in Enumerable.Range(56, 50))
        {
            var row = new RowValues([Text(id), "changed"], new bool[2]);
            await (verb == "UPDATE"
                ? writes.UpdateAsync(table, new UpdateChange(table.Source, null, false, row), CancellationToken.None)
                : writes.DeleteAsync(table, new DeleteChange(table.Source, row with { Values = [Text(id), null] }, false), CancellationToken.None));
        }

        var e = await Assert.ThrowsAsync<PgRelocateException>(() => writes.SendAllAsync(CancellationToken.None));
        Assert.Contains($"{verb}s of 50 rows of public.t found only 45 of them on the target", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The target's statistics taken while the apply held its rows uncommitted (an autovacuum's ANALYZE then counts
    /// none of them: pages but no rows): every statement of the apply still finds its rows by the key's index,
    /// as the server's own counters show, instead of reading the whole table for each batch.
    /// </summary>
    [Fact]
    public async Task Should_Find_Rows_By_The_Key_Where_The_Targets_Statistics_Count_No_Rows()
    {
        var db = await server.CreateDatabaseAsync("stale");
        await PgServer.ExecuteAsync(db, "CREATE TABLE t (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off)");
        await using (var holder = await OpenAsync(db))
        {
            await using var tx = await holder.BeginTransactionAsync();
            await Db.ExecuteAsync(holder, "INSERT INTO public.t SELECT g, 'v' FROM generate_series(1, 100000) g", CancellationToken.None);
            await PgServer.ExecuteAsync(db, "ANALYZE t");
            await tx.CommitAsync();
        }

        Assert.Equal(0L, await PgServer.ScalarAsync<long>(db, "SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.t'::regclass"));

        // The server's counters of the table once the setup's sessions have reported (its index's build read the table).
        var before = await CountersAsync(db, c => c[3] == 100_000);
        await using (var conn = await OpenAsync(db))
        {
            var table = await DescribeAsync(conn, "public", "t");
            await using var tx = await conn.BeginTransactionAsync();
            var writes = new TargetWrites(conn);
            writes.Begin(tx);

            // 3,000 UPDATEs keeping their key (statements of many rows), a run of 500 DELETEs (one statement),
            // then 5 of each alone (a statement per row).
            foreach (var id in Enumerable.Range(1, 3000))
            {
                await writes.UpdateAsync(table, Changed(table, id), CancellationToken.None);
            }

            await writes.SendAllAsync(CancellationToken.None);
            foreach (var id in Enumerable.Range(50_001, 5))
            {
                await writes.UpdateAsync(table, Changed(table, id), CancellationToken.None);
                await writes.SendAllAsync(CancellationToken.None);
            }

            foreach (var id in Enumerable.Range(10_001, 500))
            {
                await writes.DeleteAsync(table, new DeleteChange(table.Source, new RowValues([Text(id), null], new bool[2]), false), CancellationToken.None);
            }

            await writes.SendAllAsync(CancellationToken.None);
            foreach (var id in Enumerable.Range(60_001, 5))
            {
                await writes.DeleteAsync(table, new DeleteChange(table.Source, new RowValues([Text(id), null], new bool[2]), false), CancellationToken.None);
                await writes.SendAllAsync(CancellationToken.None);
            }

            await tx.CommitAsync();
        }

        // The apply's session has ended, so its counters reach the server's statistics: no read of the whole
        // table, and index entries read for the 3,510 rows touched, not for the 100,000 the table holds.
        var after = await CountersAsync(db, c => c[1] > before[1]);
        Assert.True(after[1] > before[1], "the apply's statements were never counted");
        Assert.Equal(before[0], after[0]);
        Assert.InRange(after[2] - before[2], 3_510L, 10_000L);
        Assert.Equal(3005L, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM t WHERE v = 'changed'"));
        Assert.Equal(100_000L - 505, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM t"));
    }

    /// <summary>The table's whole reads, index scans, index entries read and rows inserted, once <paramref name="reported"/> holds (the sessions' counters reach the server as they end), or after ten seconds.</summary>
    private static async Task<long[]> CountersAsync(PgConnectionInfo db, Func<long[], bool> reported)
    {
        const string Counters = """
            SELECT ARRAY[coalesce(t.seq_scan, 0), coalesce(t.idx_scan, 0), (SELECT coalesce(sum(i.idx_tup_read), 0) FROM pg_stat_user_indexes i WHERE i.relid = t.relid), t.n_tup_ins]::bigint[]
            FROM pg_stat_user_tables t WHERE t.relid = 'public.t'::regclass
            """;
        long[]? counters = null;
        await Eventually.Holds(async () => reported((counters = await PgServer.ScalarAsync<long[]>(db, Counters))!), TimeSpan.FromSeconds(10));

        return counters!;
    }

    private static UpdateChange Changed(TargetTable table, int id) => new(table.Source, null, false, new RowValues([Text(id), "changed"], new bool[2]));

    private static string Text(int n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Date(int id) => new DateOnly(2024, 1, 1).AddDays(id).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    private static string EventDate(int id) => new DateOnly(2024, 1, 1).AddDays(id % 700).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    private static RowValues Key(int id) => new([Text(id), Date(id), null, null, null, null, null, null], new bool[8]);

    private static async Task<NpgsqlConnection> OpenAsync(PgConnectionInfo db)
    {
        var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await Db.ExecuteAsync(conn, TargetWrites.SessionSettings, CancellationToken.None);
        return conn;
    }

    /// <summary>The table as the change stream would describe it (columns, key, types), read from the catalog.</summary>
    private static async Task<TargetTable> DescribeAsync(NpgsqlConnection conn, string schema, string name)
    {
        var columns = new List<string>();
        var key = new List<bool>();
        var types = new List<uint>();
        var modifiers = new List<int>();
        await using (var cmd = new NpgsqlCommand(
            """
            SELECT a.attname::text, a.atttypid, a.atttypmod, a.attnum = ANY (coalesce(i.indkey::int2[], '{}'))
            FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
            WHERE a.attrelid = pg_catalog.format('%I.%I', @schema, @name)::regclass AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """, conn))
        {
            cmd.Parameters.AddWithValue("schema", schema);
            cmd.Parameters.AddWithValue("name", name);
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync())
            {
                columns.Add(r.GetString(0));
                types.Add(r.GetFieldValue<uint>(1));
                modifiers.Add(r.GetInt32(2));
                key.Add(r.GetBoolean(3));
            }
        }

        return await TargetTable.DescribeAsync(conn, new SourceRelation(1, schema, name, columns, key, types, modifiers), CancellationToken.None);
    }

    private static async Task<List<string?[]>> RowsAsync(PgConnectionInfo db, string sql)
    {
        await using var conn = await OpenAsync(db);
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var r = await cmd.ExecuteReaderAsync();
        var rows = new List<string?[]>();
        while (await r.ReadAsync())
        {
            rows.Add(r.GetFieldValue<string?[]>(0));
        }

        return rows;
    }
}
