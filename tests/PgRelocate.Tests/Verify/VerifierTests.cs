using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Verify;

namespace PgRelocate.Tests.Verify;

[Heavy(90)]
public class VerifierTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Find_No_Difference_Between_Identical_Databases()
    {
        var (source, target) = await Pairs.CreateAsync(server);

        var result = await Pairs.VerifyAsync(source, target);

        Assert.False(result.HasDifferences, string.Join("; ", result.SchemaDifferences));
        Assert.All(result.ObjectCounts, c => Assert.True(c.Equal && c.Source > 0, c.ToString()));
        Assert.Equal(["public.ids", "public.items", "public.nokey", "sales.lines"], result.Tables.Select(t => t.Name));
        Assert.Equal(500, result.Tables.Single(t => t.Name == "public.items").TargetRows);
    }

    [Fact]
    public async Task Should_Find_No_Difference_When_Counting_Identical_Databases()
    {
        var (source, target) = await Pairs.CreateAsync(server);

        var result = await Pairs.VerifyAsync(source, target, VerifyMode.Counts);

        Assert.False(result.HasDifferences);
        Assert.All(result.Tables, t => Assert.Null(t.SourceDigest));
    }

    [Theory]
    [InlineData("DELETE FROM items WHERE id = 250", "250", DifferenceKind.MissingOnTarget, null)]
    [InlineData("INSERT INTO items (id, t) VALUES (1000, 'new')", "1000", DifferenceKind.ExtraOnTarget, null)]
    [InlineData("UPDATE items SET t = 'changed' WHERE id = 20", "20", DifferenceKind.Different, "t")]
    [InlineData("UPDATE items SET n = n + 0.0000001 WHERE id = 21", "21", DifferenceKind.Different, "n")]
    [InlineData("UPDATE items SET n = round(n, 3) WHERE id = 2", "2", DifferenceKind.Different, "n")]
    [InlineData("UPDATE items SET f = f * (1 + 1e-15) WHERE id = 22", "22", DifferenceKind.Different, "f")]
    [InlineData("UPDATE items SET f = 'Infinity' WHERE id = 10", "10", DifferenceKind.Different, "f")]
    [InlineData("UPDATE items SET f = 'NaN' WHERE id = 11", "11", DifferenceKind.Different, "f")]
    [InlineData("UPDATE items SET j = j || '{\"x\": 1}' WHERE id = 23", "23", DifferenceKind.Different, "j")]
    [InlineData("UPDATE items SET b = b || '\\x00'::bytea WHERE id = 24", "24", DifferenceKind.Different, "b")]
    [InlineData("UPDATE items SET ts = ts + interval '1 microsecond' WHERE id = 25", "25", DifferenceKind.Different, "ts")]
    [InlineData("UPDATE items SET iv = iv + interval '1 day' WHERE id = 26", "26", DifferenceKind.Different, "iv")]
    [InlineData("UPDATE items SET arr = ARRAY[27, NULL] WHERE id = 27", "27", DifferenceKind.Different, "arr")]
    [InlineData("UPDATE items SET tarr = ARRAY['a', 'NULL', 'b c'] WHERE id = 28", "28", DifferenceKind.Different, "tarr")]
    [InlineData("UPDATE items SET code = 'C29' WHERE id = 29", "29", DifferenceKind.Different, "code")]
    [InlineData("UPDATE items SET u = NULL WHERE id = 30", "30", DifferenceKind.Different, "u")]
    [InlineData("UPDATE items SET t = '' WHERE id = 12", "12", DifferenceKind.Different, "t")]
    [InlineData("UPDATE items SET t = NULL WHERE id = 13", "13", DifferenceKind.Different, "t")]
    public async Task Should_Name_The_Row_Changed_On_The_Target(string injection, string id, DifferenceKind kind, string? column)
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, injection);

        var result = await Pairs.VerifyAsync(source, target);

        var table = result.Tables.Single(t => t.Name == "public.items");
        Assert.False(table.Equal);
        var row = Assert.Single(table.Rows);
        Assert.Equal(id, row.Key["id"]);
        Assert.Equal(kind, row.Difference);
        if (column is not null)
        {
            var changed = Assert.Single(row.Columns!);
            Assert.Equal(column, changed.Column);
            Assert.NotEqual(changed.Source, changed.Target);
        }

        Assert.All(result.Tables.Where(t => t.Name != "public.items"), t => Assert.True(t.Equal, t.Name));
    }

    [Fact]
    public async Task Should_Detect_Values_Swapped_Between_Rows()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "UPDATE items SET t = CASE id WHEN 30 THEN 'text 31' ELSE 'text 30' END, b = CASE id WHEN 30 THEN int4send(31) ELSE int4send(30) END WHERE id IN (30, 31)");

        var result = await Pairs.VerifyAsync(source, target);

        var rows = result.Tables.Single(t => t.Name == "public.items").Rows;
        Assert.Equal(["30", "31"], rows.Select(r => r.Key["id"]).Order(StringComparer.Ordinal));
        Assert.All(rows, r => Assert.Equal(["t", "b"], r.Columns!.Select(c => c.Column)));
    }

    [Fact]
    public async Task Should_Tell_Null_From_Empty_Text_In_The_Reported_Values()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "UPDATE items SET t = '' WHERE id = 12");

        var result = await Pairs.VerifyAsync(source, target);

        var changed = Assert.Single(Assert.Single(result.Tables.Single(t => t.Name == "public.items").Rows).Columns!);
        Assert.Null(changed.Source);
        Assert.Equal("", changed.Target);
    }

    [Fact]
    public async Task Should_Name_The_Row_Of_A_Table_With_A_Composite_Key()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "UPDATE sales.lines SET qty = 999 WHERE order_no = 7 AND sku = 'sku-1'");

        var result = await Pairs.VerifyAsync(source, target);

        var row = Assert.Single(result.Tables.Single(t => t.Name == "sales.lines").Rows);
        Assert.Equal("7", row.Key["order_no"]);
        Assert.Equal("sku-1", row.Key["sku"]);
        Assert.Equal(new ColumnDifference("qty", "23", "999"), Assert.Single(row.Columns!));
    }

    [Fact]
    public async Task Should_Detect_A_Duplicated_Row_In_A_Table_Without_A_Key()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "INSERT INTO nokey SELECT * FROM nokey LIMIT 1");

        var result = await Pairs.VerifyAsync(source, target);

        var table = result.Tables.Single(t => t.Name == "public.nokey");
        Assert.False(table.Equal);
        Assert.Equal((50, 51), (table.SourceRows, table.TargetRows));
        Assert.Null(table.Key);
        Assert.Contains("no primary key", table.Note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Detect_A_Changed_Row_With_The_Same_Count_In_A_Table_Without_A_Key()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "UPDATE nokey SET b = 'y' WHERE ctid = (SELECT min(ctid) FROM nokey)");

        var result = await Pairs.VerifyAsync(source, target);

        var table = result.Tables.Single(t => t.Name == "public.nokey");
        Assert.False(table.Equal);
        Assert.Equal(table.SourceRows, table.TargetRows);
    }

    [Theory]
    [InlineData("SELECT setval('counter', 10)", "sequence value", "public.counter", DifferenceKind.Different)]
    [InlineData("DROP INDEX items_t", "index", "public.items_t", DifferenceKind.MissingOnTarget)]
    [InlineData("ALTER TABLE items ALTER COLUMN status SET DEFAULT 'old'", "column", "public.items.status", DifferenceKind.Different)]
    [InlineData("DROP EXTENSION hstore", "extension", "hstore", DifferenceKind.MissingOnTarget)]
    [InlineData("SELECT lo_unlink(4242)", "large object", "4242", DifferenceKind.MissingOnTarget)]
    [InlineData("SELECT lo_put(4242, 0, 'A')", "large object", "4242", DifferenceKind.Different)]
    [InlineData("SELECT lo_put(4242, 14, '!')", "large object", "4242", DifferenceKind.Different)]
    [InlineData("SELECT lo_from_bytea(4343, 'one more')", "large object", "4343", DifferenceKind.ExtraOnTarget)]
    [InlineData("DROP TRIGGER items_touch ON items", "trigger", "public.items.items_touch", DifferenceKind.MissingOnTarget)]
    [InlineData("CREATE OR REPLACE VIEW item_texts AS SELECT id, t FROM items WHERE id > 1", "view", "public.item_texts", DifferenceKind.Different)]
    [InlineData("CREATE TABLE extra (x int)", "table", "public.extra", DifferenceKind.ExtraOnTarget)]
    [InlineData("ALTER TABLE sales.lines DROP CONSTRAINT lines_qty_check", "constraint", "sales.lines.lines_qty_check", DifferenceKind.MissingOnTarget)]
    public async Task Should_Name_The_Schema_Object_That_Differs(string injection, string kind, string name, DifferenceKind difference)
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await server.ExecuteAsync(target.Database, injection);

        var result = await Pairs.VerifyAsync(source, target);

        Assert.True(result.HasDifferences);
        Assert.Contains(result.SchemaDifferences, d => d.Kind == kind && d.Name == name && d.Difference == difference);
    }

    [Fact]
    public async Task Should_Not_Report_A_Target_Sequence_Ahead_Of_Its_Source()
    {
        var (source, target) = await Pairs.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "SELECT setval('counter', 1000)");

        var result = await Pairs.VerifyAsync(source, target);

        Assert.False(result.HasDifferences);
    }

    [Fact]
    public async Task Should_Only_Compare_The_Tables_Matching_The_Patterns()
    {
        var (source, target) = await Pairs.CreateAsync(server);

        var result = await PgRelocate.Verify.Verifier.RunAsync(
            new VerifyOptions { Source = source, Target = target, Tables = ["sales.*", "nokey"] }, PgRelocate.Progress.NullReporter.Instance, CancellationToken.None);

        Assert.Equal(["public.nokey", "sales.lines"], result.Tables.Select(t => t.Name));
    }

    [Fact]
    public async Task Should_Release_Each_Table_Of_A_Snapshot_Once_Read_So_A_Live_Sources_Truncate_Of_Several_Tables_Goes_On()
    {
        // big is compared first (the larger, and long enough to watch), then small.
        var (source, target) = await Pairs.CreateAsync(server, """
            CREATE TABLE big (id int PRIMARY KEY, t text);
            INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 300000) g;
            CREATE TABLE small (id int PRIMARY KEY);
            INSERT INTO small SELECT generate_series(1, 10);
            ANALYZE big, small;
            """);
        await using var exporter = new NpgsqlConnection(source.ToNpgsqlConnectionString());
        await exporter.OpenAsync();
        await Db.ExecuteAsync(exporter, "BEGIN ISOLATION LEVEL REPEATABLE READ", CancellationToken.None);
        var snapshot = await Db.ScalarAsync<string>(exporter, "SELECT pg_export_snapshot()", CancellationToken.None);
        await using var application = new NpgsqlConnection(source.ToNpgsqlConnectionString());
        await application.OpenAsync();
        await Db.ExecuteAsync(application, "SET lock_timeout = '20s'", CancellationToken.None);
        const string Comparing = "application_name = 'pgrelocate verify' AND query LIKE 'SELECT count(*)%' AND query LIKE {0}";

        var verifying = Verifier.RunAsync(
            new VerifyOptions { Source = source, Target = target, SourceSnapshot = snapshot, Jobs = 1 }, PgRelocate.Progress.NullReporter.Instance, CancellationToken.None);
        await WaitForAsync(string.Format(Comparing, "'%\"big\"%' AND state = 'active'"), "the comparison of big");
        // While big is compared, the application takes small; the comparison comes to wait for it.
        await Db.ExecuteAsync(application, "BEGIN; TRUNCATE small", CancellationToken.None);
        await WaitForAsync(string.Format(Comparing, "'%\"small\"%' AND wait_event_type = 'Lock'"), "the comparison waiting for the application's lock on small");
        // The application now wants the table compared first: it must not wait for the whole comparison to end
        // (which waits for the application: a deadlock).
        await Db.ExecuteAsync(application, "TRUNCATE big; COMMIT", CancellationToken.None);
        var result = await verifying;

        Assert.True(result.Tables.Single(t => t.Name == "public.big").Equal);
        Assert.Equal(10, result.Tables.Single(t => t.Name == "public.small").TargetRows);

        Task WaitForAsync(string condition, string what) => PgServer.WaitForActivityAsync(source, condition, verifying, what);
    }
}
