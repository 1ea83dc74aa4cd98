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

    [Fact]
    public async Task Should_Load_Values_With_Every_Character_Copy_Escapes_And_Coalesce_Updates_By_A_One_Column_Key()
    {
        var db = await server.CreateDatabaseAsync("escapes");
        await PgServer.ExecuteAsync(db, """CREATE TABLE "k t" (id int PRIMARY KEY, v text)""");
        // Each character COPY's text format escapes, alone, repeated, at either end and between others; what looks
        // like its null and its end of data; an empty value, a null one and text beyond ASCII.
        string?[] tricky = ["\\", "\t", "\n", "\r", "a\\b\tc\nd\re", "\\\\\t\t\n\n", "tail\\", "\nhead", "", null, "é\tü 名", "plain", "\\N", "\\.", "\r\n"];
        var expected = new SortedDictionary<int, string?>();
        await using var conn = await OpenAsync(db);
        var table = await DescribeAsync(conn, "public", "k t");
        await using (var tx = await conn.BeginTransactionAsync())
        {
            var writes = new TargetWrites(conn);
            writes.Begin(tx);
            // A run of 45 INSERTs: loaded by COPY.
            for (var id = 1; id <= 45; id++)
            {
                var value = tricky[id % tricky.Length];
                await writes.InsertAsync(table, new RowValues([Text(id), value], new bool[2]), CancellationToken.None);
                expected[id] = value;
            }

            await writes.SendAllAsync(CancellationToken.None);
            // UPDATEs by the one-column key, rows 1 to 30 twice: the later values win.
            foreach (var round in new[] { 1, 2 })
            {
                foreach (var id in Enumerable.Range(1, round == 1 ? 40 : 30))
                {
                    var value = tricky[(id + round) % tricky.Length] + round;
                    await writes.UpdateAsync(table, new UpdateChange(table.Source, null, false, new RowValues([Text(id), value], new bool[2])), CancellationToken.None);
                    expected[id] = value;
                }
            }

            await writes.SendAllAsync(CancellationToken.None);
            await tx.CommitAsync();
        }

        var rows = await RowsAsync(db, """SELECT ARRAY[id::text, v] FROM public."k t" ORDER BY id""");
        Assert.Equal(expected.Count, rows.Count);
        foreach (var (row, (id, value)) in rows.Zip(expected))
        {
            Assert.True(row.SequenceEqual([Text(id), value]), $"row {id}: expected [{value}], found [{string.Join(" | ", row)}]");
        }
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
    /// A table analyzed while 300,000 rows were inserted and not yet committed (as the apply's own transaction holds
    /// them when autovacuum comes by) looks empty to the planner (reltuples 0): 3,000 UPDATEs and 2,000 DELETEs applied
    /// together must still find each row through the key's index, never read the table or walk the whole index. Read
    /// from the server's own statistics: without the plan's settings the five statements read about 1.5 million
    /// index entries.
    /// </summary>
    [Fact]
    public async Task Should_Find_Rows_Changed_Together_By_The_Key_Index_When_The_Statistics_Say_The_Table_Is_Empty()
    {
        var db = await server.CreateDatabaseAsync("stale_stats");
        await PgServer.ExecuteAsync(db, "CREATE TABLE big (id int PRIMARY KEY, v text)");
        await using (var loader = await OpenAsync(db))
        {
            await using var tx = await loader.BeginTransactionAsync();
            await Db.ExecuteAsync(loader, "INSERT INTO public.big SELECT g, 'v' || g FROM generate_series(1, 300000) g", CancellationToken.None);
            await PgServer.ExecuteAsync(db, "ANALYZE big");
            await tx.CommitAsync();
        }

        Assert.Equal(0d, await PgServer.ScalarAsync<float>(db, "SELECT reltuples FROM pg_class WHERE oid = 'big'::regclass"));
        await using var conn = await OpenAsync(db);
        var table = await DescribeAsync(conn, "public", "big");
        var before = await IndexReadsAsync(db);
        await using (var tx = await conn.BeginTransactionAsync())
        {
            var writes = new TargetWrites(conn);
            writes.Begin(tx);
            foreach (var id in Enumerable.Range(1, 3000).Select(i => i * 97))
            {
                await writes.UpdateAsync(table, new UpdateChange(table.Source, null, false, new RowValues([Text(id), "changed"], new bool[2])), CancellationToken.None);
            }

            await writes.SendAllAsync(CancellationToken.None);
            foreach (var id in Enumerable.Range(1, 2000).Select(i => i * 101 + 1))
            {
                await writes.DeleteAsync(table, new DeleteChange(table.Source, new RowValues([Text(id), null], new bool[2]), false), CancellationToken.None);
            }

            await writes.SendAllAsync(CancellationToken.None);
            await Db.ExecuteAsync(conn, "SELECT pg_stat_force_next_flush()", CancellationToken.None);
            await tx.CommitAsync();
        }

        // The statistics reach other sessions once flushed: the last statements' reads are in when the deletes are.
        await Eventually.True(async () => (await IndexReadsAsync(db)).Deleted >= before.Deleted + 2000, TimeSpan.FromSeconds(30), "The deletes never reached the statistics.");
        var after = await IndexReadsAsync(db);
        Assert.Equal(before.SeqScans, after.SeqScans);
        Assert.InRange(after.IndexEntries - before.IndexEntries, 5000, 20000);
        // The rows as the changes say (counted after the statistics were read: a count reads the whole table).
        var updated = Enumerable.Range(1, 3000).Select(i => i * 97).Except(Enumerable.Range(1, 2000).Select(i => i * 101 + 1)).Count();
        Assert.Equal(updated, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM big WHERE v = 'changed'"));
        Assert.Equal(298000L, await PgServer.ScalarAsync<long>(db, "SELECT count(*) FROM big"));
    }

    /// <summary>
    /// The apply's session runs without JIT: a target whose server compiles every statement (here jit on and jit_above_cost 0; by
    /// default those the planner costs above 100,000, such as an UPDATE of 1,000 rows by key on a table without
    /// statistics, compiled in 70 ms where it ran in 9) compiles none of the apply's.
    /// </summary>
    [Fact]
    public async Task Should_Apply_Without_Jit_Whatever_The_Target_Compiles()
    {
        var db = await server.CreateDatabaseAsync("no_jit");
        await PgServer.ExecuteAsync(db, $"ALTER DATABASE {Db.Ident(db.Database)} SET jit = on; ALTER DATABASE {Db.Ident(db.Database)} SET jit_above_cost = 0");
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        Assert.Equal("on", await Db.ScalarAsync<string>(conn, "SHOW jit", CancellationToken.None));

        await Db.ExecuteAsync(conn, TargetWrites.SessionSettings, CancellationToken.None);

        Assert.Equal("off", await Db.ScalarAsync<string>(conn, "SHOW jit", CancellationToken.None));
    }

    private static async Task<(long SeqScans, long IndexEntries, long Deleted)> IndexReadsAsync(PgConnectionInfo db)
    {
        await using var conn = await OpenAsync(db);
        await using var cmd = new NpgsqlCommand(
            "SELECT t.seq_scan, i.idx_tup_read, t.n_tup_del FROM pg_stat_user_tables t JOIN pg_stat_user_indexes i USING (relid) WHERE t.relname = 'big'", conn);
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        return (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2));
    }

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
