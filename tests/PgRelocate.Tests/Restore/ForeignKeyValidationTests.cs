using Npgsql;
using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Restore;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>
/// The foreign keys of a copy and of a scheduled restore are added NOT VALID and validated side by side (so that the
/// tables referencing one table are checked at once): the target ends as pg_dump made it, with every kind of foreign
/// key real schemas hold; those that cannot be (a partitioned table's, one NOT VALID on the source) stay with
/// pg_restore; one that fails its check is dropped and handed back to pg_restore, which reports it.
/// </summary>
[Heavy(40)]
public sealed class ForeignKeyValidationTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    /// <summary>A hub table referenced by three, names that need quoting, a composite, a self-reference, ON DELETE and DEFERRABLE, a comment on one, a partitioned table's, one to a partitioned table, one NOT VALID.</summary>
    private const string Schema = """"
        CREATE SCHEMA "Shop ""Main"".v1";
        CREATE TABLE "Shop ""Main"".v1"."User Accounts" (id int PRIMARY KEY, region int, code text, UNIQUE (region, code));
        INSERT INTO "Shop ""Main"".v1"."User Accounts" SELECT g, g % 10, 'c' || g FROM generate_series(1, 20000) g;
        CREATE TABLE orders (id bigint PRIMARY KEY, "User Id" int NOT NULL REFERENCES "Shop ""Main"".v1"."User Accounts" ON DELETE CASCADE, parent bigint REFERENCES orders DEFERRABLE INITIALLY DEFERRED);
        INSERT INTO orders SELECT g, 1 + g % 20000, NULLIF(g - 1, 0) FROM generate_series(1, 30000) g;
        CREATE TABLE "payments; log" (id bigint PRIMARY KEY, user_id int, region int, code text,
            CONSTRAINT "pay ""user""" FOREIGN KEY (user_id) REFERENCES "Shop ""Main"".v1"."User Accounts" (id),
            CONSTRAINT pay_code FOREIGN KEY (region, code) REFERENCES "Shop ""Main"".v1"."User Accounts" (region, code) ON UPDATE CASCADE);
        INSERT INTO "payments; log" SELECT g, 1 + g % 20000, (1 + g % 20000) % 10, 'c' || (1 + g % 20000) FROM generate_series(1, 30000) g;
        COMMENT ON CONSTRAINT pay_code ON "payments; log" IS 'the code, as the region knows it';
        CREATE TABLE visits (id int, user_id int REFERENCES "Shop ""Main"".v1"."User Accounts", at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE visits_2026 PARTITION OF visits FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        INSERT INTO visits SELECT g, 1 + g % 20000, date '2026-01-01' + g % 300 FROM generate_series(1, 5000) g;
        CREATE TABLE visit_notes (id int PRIMARY KEY, visit_id int, at date, FOREIGN KEY (visit_id, at) REFERENCES visits (id, at));
        INSERT INTO visit_notes SELECT g, g, date '2026-01-01' + g % 300 FROM generate_series(1, 1000) g;
        CREATE TABLE legacy (id int PRIMARY KEY, user_id int);
        INSERT INTO legacy VALUES (1, 1), (2, 999999);
        ALTER TABLE legacy ADD CONSTRAINT legacy_user FOREIGN KEY (user_id) REFERENCES "Shop ""Main"".v1"."User Accounts" NOT VALID;
        ANALYZE;
        """";

    [Theory]
    [InlineData("copy")]
    [InlineData("migrate")]
    public async Task Should_Validate_Foreign_Keys_Side_By_Side_And_End_As_Pg_Dump_Made_Them(string path)
    {
        using var dir = new TempDir();
        var (source, target) = await DatabasesAsync(path);
        string[] both = ["--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", "2"];

        var result = await CliRunner.RunAsync(path == "copy" ? ["copy", .. both, "--log", dir.File("run.log")] : ["migrate", .. both, "--workdir", dir.Path], null);

        var log = await AssertRestoredAsync(result, source, target, path == "copy" ? dir.File("run.log") : Path.Combine(MigrationJournal.All(dir.Path).Single().Folder, "restore.log"));
        // Four plain foreign keys made here (one a self-reference, one of two columns); the partitioned table's, the one
        // to a partitioned table (one foreign key to each partition, which VALIDATE would leave NOT VALID) and the NOT
        // VALID one by pg_restore, with the comment. The copy makes the four as soon as both their tables are complete,
        // in its data phase: its last step has only the one to the partitioned table left.
        Assert.Contains($"# [foreign keys] {(path == "copy" ? 0 : 4)} added NOT VALID", log, StringComparison.Ordinal);
        Assert.Contains("# [foreign keys] public.visit_notes visit_notes_visit_id_at_fkey references a partitioned table: left to pg_restore", log, StringComparison.Ordinal);
        Assert.Equal(4, Validations(log).Count);
        if (path == "copy")
        {
            var lastStep = log.IndexOf("# [foreign keys] 0 added NOT VALID", StringComparison.Ordinal);
            var postData = log.IndexOf("post-data.list", StringComparison.Ordinal);
            Assert.All(Validations(log), v => Assert.InRange(log.IndexOf(v, StringComparison.Ordinal), 0, Math.Min(lastStep, postData)));
            Assert.Equal(4, log.Split('\n').Count(l => l.StartsWith("# [foreign keys] ", StringComparison.Ordinal) && l.Contains(" NOT VALID;", StringComparison.Ordinal)));
        }
    }

    /// <summary>
    /// A foreign key added and validated on a session of the caller's (a copy's index builder): true where it holds,
    /// false where its check fails, with nothing left of it, so that the copy's last step runs it again and reports it.
    /// </summary>
    [Fact]
    public async Task Should_Add_And_Validate_One_Foreign_Key_On_A_Given_Session_And_Leave_Nothing_Of_One_That_Fails()
    {
        var target = await ParentGoodAndBadAsync("fk_one");
        var lines = new List<string>();
        using var adding = new SemaphoreSlim(1, 1);
        await using var conn = new NpgsqlConnection(target.ToNpgsqlConnectionString());
        await conn.OpenAsync();

        Assert.True(await ForeignKeyValidation.TryAddAndValidateAsync(conn, Key(7, "good"), adding, lines.Add, CancellationToken.None));
        Assert.False(await ForeignKeyValidation.TryAddAndValidateAsync(conn, Key(8, "bad"), adding, lines.Add, CancellationToken.None));

        Assert.Equal(1, adding.CurrentCount);
        Assert.Equal(["good_fk"], await PgServer.ScalarAsync<string[]>(target, "SELECT array_agg(conname::text) FROM pg_constraint WHERE contype = 'f' AND convalidated") ?? []);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_constraint WHERE conname = 'bad_fk'"));
        Assert.Contains(lines, l => l.Contains("23503", StringComparison.Ordinal) && l.Contains("VALIDATE CONSTRAINT bad_fk", StringComparison.Ordinal));
    }

    /// <summary>
    /// A whole file restored by pg_restore's parallel mode: only the foreign keys to the table several tables reference
    /// are made here, after pg_restore's run; the self-reference and the key to the partitioned table stay in that run.
    /// </summary>
    [Fact]
    public async Task Should_Validate_Side_By_Side_Only_The_Foreign_Keys_To_A_Table_Several_Reference_When_Pg_Restore_Runs_The_File_In_Parallel()
    {
        using var dir = new TempDir();
        var (source, target) = await DatabasesAsync("restore");
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("fk.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());

        var result = await CliRunner.RunAsync("restore", dir.File("fk.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", "2", "--log", dir.File("restore.log"));

        var log = await AssertRestoredAsync(result, source, target, dir.File("restore.log"));
        Assert.Contains("# [foreign keys] 3 added NOT VALID", log, StringComparison.Ordinal);
        Assert.Equal(
            ["public.\"payments; log\" \"pay \"\"user\"\"\"", "public.\"payments; log\" pay_code", "public.orders \"orders_User Id_fkey\""],
            Validations(log).Select(l => l[(l.IndexOf("ALTER TABLE ONLY ", StringComparison.Ordinal) + 17)..].Replace(" VALIDATE CONSTRAINT ", " ", StringComparison.Ordinal).TrimEnd(';')).Order(StringComparer.Ordinal));
        Assert.DoesNotContain("references a partitioned table", log, StringComparison.Ordinal);
        Assert.Contains("--jobs=2", log.Split('\n').First(l => l.Contains("/pg_restore ", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    private async Task<(PgConnectionInfo Source, PgConnectionInfo Target)> DatabasesAsync(string path)
    {
        var source = await servers.Source.CreateDatabaseAsync("fk_" + path);
        await PgServer.ExecuteAsync(source, Schema);
        return (source, await servers.Target.CreateDatabaseAsync("fk_" + path + "_target"));
    }

    /// <summary>
    /// The run succeeded and the target is the source as pg_dump and plain SQL see it and as verify sees it, every
    /// foreign key validated but the one NOT VALID on the source, the comment on one there; the log's text.
    /// </summary>
    private static async Task<string> AssertRestoredAsync(CliResult result, PgConnectionInfo source, PgConnectionInfo target, string logFile)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        await DatabaseSnapshot.AssertSameAsync(source, target);
        var verify = await CliRunner.RunAsync("verify", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        var log = await File.ReadAllTextAsync(logFile);
        Assert.Contains("[foreign keys]", log.Split('\n').Single(l => l.Contains("/pg_restore ", StringComparison.Ordinal) && l.Contains("foreign-keys.list", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Equal("the code, as the region knows it", await PgServer.ScalarAsync<string>(target, "SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint WHERE conname = 'pay_code'"));
        Assert.Equal(["legacy_user"], await PgServer.ScalarAsync<string[]>(target, "SELECT array_agg(conname::text) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated") ?? []);
        return log;
    }

    private static List<string> Validations(string log) =>
        [.. log.Split('\n').Where(l => l.StartsWith("# [foreign keys] ", StringComparison.Ordinal) && l.Contains(" VALIDATE CONSTRAINT ", StringComparison.Ordinal))];

    /// <summary>A foreign key whose check fails (a row without its key) is dropped again and handed back for pg_restore to run; the others stay validated.</summary>
    [Fact]
    public async Task Should_Hand_Back_A_Foreign_Key_Whose_Check_Fails_With_Nothing_Left_Of_It()
    {
        var target = await ParentGoodAndBadAsync("fk_fails");
        var lines = new List<string>();

        var left = await ForeignKeyValidation.RunAsync([Key(7, "good"), Key(8, "bad")], [], 2, "64MB", async ct =>
        {
            var conn = new NpgsqlConnection(target.ToNpgsqlConnectionString());
            await conn.OpenAsync(ct);
            return conn;
        }, lines.Add, CancellationToken.None);

        Assert.Equal([8], left.Select(e => e.Id));
        Assert.Equal(["good_fk"], await PgServer.ScalarAsync<string[]>(target, "SELECT array_agg(conname::text) FROM pg_constraint WHERE contype = 'f' AND convalidated") ?? []);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_constraint WHERE conname = 'bad_fk'"));
        Assert.Contains(lines, l => l.Contains("23503", StringComparison.Ordinal) && l.EndsWith("left to pg_restore", StringComparison.Ordinal));
    }

    /// <summary>A target database whose tables good and bad reference parent without a foreign key yet: every row of good has its parent, one of bad has none.</summary>
    private async Task<PgConnectionInfo> ParentGoodAndBadAsync(string name)
    {
        var target = await servers.Target.CreateDatabaseAsync(name);
        await PgServer.ExecuteAsync(target, """
            CREATE TABLE parent (id int PRIMARY KEY);
            INSERT INTO parent SELECT generate_series(1, 100);
            CREATE TABLE good (id int PRIMARY KEY, parent_id int);
            INSERT INTO good SELECT g, g FROM generate_series(1, 100) g;
            CREATE TABLE bad (id int PRIMARY KEY, parent_id int);
            INSERT INTO bad VALUES (1, 1), (2, 4242);
            """);
        return target;
    }

    /// <summary>pg_dump's foreign key from <paramref name="table"/> to parent, as entry <paramref name="id"/>.</summary>
    private static ValidatedForeignKey Key(int id, string table) =>
        ForeignKeyValidation.Plan(Entry(id, $"ALTER TABLE ONLY public.{table}\n    ADD CONSTRAINT {table}_fk FOREIGN KEY (parent_id) REFERENCES public.parent(id);\n"))!;

    [Fact]
    public void Should_Make_Here_Only_Plain_Foreign_Keys_And_Keep_What_Needs_Them_For_After()
    {
        var quoted = Entry(1, "ALTER TABLE ONLY \"Shop \"\"Main\"\".v1\".\"payments; log\"\n    ADD CONSTRAINT \"pay \"\"user\"\"\" FOREIGN KEY (user_id) REFERENCES \"Shop \"\"Main\"\".v1\".\"User Accounts\"(id) ON DELETE CASCADE;\n");
        var partitioned = Entry(2, "ALTER TABLE public.visits\n    ADD CONSTRAINT visits_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);\n");
        var invalid = Entry(3, "ALTER TABLE public.legacy\n    ADD CONSTRAINT legacy_user FOREIGN KEY (user_id) REFERENCES public.users(id) NOT VALID;\n");
        var comment = Entry(4, "COMMENT ON CONSTRAINT \"pay \"\"user\"\"\" ON \"Shop \"\"Main\"\".v1\".\"payments; log\" IS 'x';\n", "COMMENT", [1]);
        var trigger = Entry(5, "CREATE TRIGGER t AFTER INSERT ON public.orders FOR EACH ROW EXECUTE FUNCTION public.f();\n", "TRIGGER", []);

        var key = ForeignKeyValidation.Plan(quoted);
        var (before, keys, after) = ForeignKeyValidation.Split([quoted, partitioned, invalid, comment, trigger]);

        Assert.NotNull(key);
        Assert.Equal("\"Shop \"\"Main\"\".v1\".\"payments; log\"", key.Table);
        Assert.Equal("\"pay \"\"user\"\"\"", key.Name);
        Assert.Equal("\"Shop \"\"Main\"\".v1\".\"User Accounts\"", key.Referenced);
        Assert.Equal(("Shop \"Main\".v1", "payments; log"), key.TableName);
        Assert.Equal(("Shop \"Main\".v1", "User Accounts"), key.ReferencedName);
        Assert.Equal(("public", "orders"), ArchiveToc.Unqualify("public.orders"));
        Assert.EndsWith("ON DELETE CASCADE NOT VALID;", key.AddNotValid, StringComparison.Ordinal);
        Assert.Equal("ALTER TABLE ONLY \"Shop \"\"Main\"\".v1\".\"payments; log\" VALIDATE CONSTRAINT \"pay \"\"user\"\"\";", key.Validate);
        Assert.Null(ForeignKeyValidation.Plan(partitioned));
        Assert.Null(ForeignKeyValidation.Plan(invalid));
        Assert.Equal([2, 3, 5], before.Select(e => e.Id));
        Assert.Equal([1], keys.Select(k => k.Entry.Id));
        Assert.Equal([4], after.Select(e => e.Id));
    }

    /// <summary>For pg_restore's parallel mode: only the foreign keys to a table that two tables or more reference, and what needs them.</summary>
    [Fact]
    public void Should_Make_Here_For_Pg_Restores_Parallel_Mode_Only_The_Foreign_Keys_To_A_Table_Several_Tables_Reference()
    {
        var fromOrders = Entry(1, "ALTER TABLE ONLY public.orders\n    ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES public.users(id);\n");
        var fromPayments = Entry(2, "ALTER TABLE ONLY public.payments\n    ADD CONSTRAINT payments_user FOREIGN KEY (user_id) REFERENCES public.users(id);\n");
        var secondFromPayments = Entry(3, "ALTER TABLE ONLY public.payments\n    ADD CONSTRAINT payments_order FOREIGN KEY (order_id) REFERENCES public.orders(id);\n");
        var twiceFromOneTable = Entry(4, "ALTER TABLE ONLY public.moves\n    ADD CONSTRAINT moves_from FOREIGN KEY (from_id) REFERENCES public.places(id);\n");
        var againFromOneTable = Entry(5, "ALTER TABLE ONLY public.moves\n    ADD CONSTRAINT moves_to FOREIGN KEY (to_id) REFERENCES public.places(id);\n");
        var comment = Entry(6, "COMMENT ON CONSTRAINT orders_user ON public.orders IS 'x';\n", "COMMENT", [1]);

        var (before, keys, after) = ForeignKeyValidation.SplitShared([fromOrders, fromPayments, secondFromPayments, twiceFromOneTable, againFromOneTable, comment]);

        Assert.Equal([3, 4, 5], before.Select(e => e.Id));
        Assert.Equal([1, 2], keys.Select(k => k.Entry.Id));
        Assert.Equal([6], after.Select(e => e.Id));
    }

    private static ArchiveEntry Entry(int id, string sql, string kind = "FK CONSTRAINT", IReadOnlyList<int>? dependencies = null) =>
        new(id, kind, "public", "t" + id, "owner", ArchiveSection.PostData, 2606, (uint)(100 + id), dependencies ?? [], sql, null, null, false, null);
}
