using PgRelocate.Archives;
using PgRelocate.Restore;

namespace PgRelocate.Tests.Restore;

/// <summary>How a restore that follows a growing archive splits it: lanes of rows, and each table's indexes and keys.</summary>
public sealed class ScheduledRestorePlanTests
{
    /// <summary>The entries of an archive as the archive reader gives them: names unquoted, with their dependencies and statements.</summary>
    private static readonly ArchiveEntry[] Toc =
    [
        E(221, 1259, 16573, "TABLE", "public", "events", [], ArchiveSection.PreData),
        E(218, 1259, 16391, "TABLE", "public", "pgbench_accounts", [], ArchiveSection.PreData),
        E(219, 1259, 16394, "TABLE", "Sales Dept", "odd \"name\" ü", [], ArchiveSection.PreData),
        E(3515, 2613, 16594, "BLOB", null, "16594", [], ArchiveSection.PreData),
        E(3514, 0, 16573, "TABLE DATA", "public", "events", [221], ArchiveSection.Data),
        E(3511, 0, 16391, "TABLE DATA", "public", "pgbench_accounts", [218], ArchiveSection.Data),
        E(3512, 0, 16394, "TABLE DATA", "Sales Dept", "odd \"name\" ü", [219], ArchiveSection.Data),
        E(3526, 0, 0, "SEQUENCE SET", "public", "events_id_seq", [], ArchiveSection.Data),
        E(3516, 0, 0, "BLOBS", null, "BLOBS", [], ArchiveSection.Data),
        E(3364, 2606, 16580, "CONSTRAINT", "public", "events events_pkey", [221], ArchiveSection.PostData, "ALTER TABLE ONLY public.events\n    ADD CONSTRAINT events_pkey PRIMARY KEY (id);\n"),
        E(3358, 2606, 16406, "CONSTRAINT", "public", "pgbench_accounts pgbench_accounts_pkey", [218], ArchiveSection.PostData, "ALTER TABLE ONLY public.pgbench_accounts\n    ADD CONSTRAINT pgbench_accounts_pkey PRIMARY KEY (aid);\n"),
        E(3361, 1259, 16587, "INDEX", "public", "events_kind_at", [221], ArchiveSection.PostData, "CREATE INDEX events_kind_at ON public.events USING btree (kind, at);\n"),
        E(3362, 1259, 16586, "INDEX", "public", "events_payload_gin", [221], ArchiveSection.PostData, "CREATE INDEX events_payload_gin ON public.events USING gin (payload);\n"),
        E(3356, 1259, 16588, "INDEX", "Sales Dept", "odd idx", [219], ArchiveSection.PostData, "CREATE UNIQUE INDEX \"odd idx\" ON \"Sales Dept\".\"odd \"\"name\"\" ü\" USING btree (id);\n"),
        E(3357, 1259, 16589, "INDEX", "public", "no_table_dependency", [], ArchiveSection.PostData, "CREATE INDEX no_table_dependency ON public.events USING btree (at);\n"),
        E(3370, 1259, 16590, "INDEX ATTACH", "public", "events_part_idx", [3361], ArchiveSection.PostData),
        E(3365, 2606, 16581, "FK CONSTRAINT", "public", "events events_aid_fkey", [221, 3358], ArchiveSection.PostData),
    ];

    private static ArchiveEntry E(int id, uint catalog, uint oid, string kind, string? schema, string tag, int[] dependencies, ArchiveSection section, string definition = "") =>
        new(id, kind, schema, tag, "postgres", section, catalog, oid, dependencies, definition, null, null, kind is "TABLE DATA" or "BLOBS" or "SEQUENCE SET", null);

    /// <summary>
    /// Every batch's pg_restore run reads the whole table of contents: 50 tables a batch at any size made 400 runs at
    /// 20,000 tables. At most eight batches a builder, each of at least 50 tables.
    /// </summary>
    [Theory]
    [InlineData(120, 2, 50)]
    [InlineData(800, 2, 50)]
    [InlineData(5000, 2, 313)]
    [InlineData(20000, 2, 1250)]
    [InlineData(20000, 8, 313)]
    [InlineData(0, 1, 50)]
    public void Should_Bound_The_Batches_Of_Small_Tables_By_The_Builders_Not_The_Tables(int smallTables, int jobs, int batch)
    {
        Assert.Equal(batch, ScheduledRestore.SmallBatchSize(smallTables, jobs));
    }

    [Fact]
    public void Should_Tie_Each_Index_And_Key_To_Its_Table_And_Start_Slow_Indexes_First()
    {
        var plan = ScheduledRestore.PlanPostData(Toc);

        Assert.Equal(["Sales Dept.odd \"name\" ü", "public.events", "public.pgbench_accounts"], plan.Keys.Order(StringComparer.Ordinal));
        // By the TABLE entry each depends on, else by the table its statement names.
        Assert.Equal([3362, 3361, 3357], plan["public.events"].Indexes.Select(i => i.Id));
        Assert.Equal([3364], plan["public.events"].Constraints.Select(i => i.Id));
        Assert.Equal([3356], plan["Sales Dept.odd \"name\" ü"].Indexes.Select(i => i.Id));
        Assert.Equal("CREATE UNIQUE INDEX \"odd idx\" ON \"Sales Dept\".\"odd \"\"name\"\" ü\" USING btree (id);", plan["Sales Dept.odd \"name\" ü"].Indexes[0].Sql);
        Assert.Empty(plan["public.pgbench_accounts"].Indexes);
        Assert.Equal([3358], plan["public.pgbench_accounts"].Constraints.Select(i => i.Id));
    }

    [Fact]
    public void Should_Spread_Tables_Over_Lanes_Largest_First_Each_In_Archive_Order()
    {
        var sizes = new Dictionary<string, long> { ["public.events"] = 300, ["public.pgbench_accounts"] = 800, ["Sales Dept.odd \"name\" ü"] = 100 };

        var lanes = ScheduledRestore.PlanLanes(Toc, 2, sizes);

        Assert.Equal(2, lanes.Count);
        // Accounts alone on the first lane, with every entry that is not table rows (the section filter keeps the data ones).
        Assert.Equal([3511], lanes[0].Where(e => e.Kind == "TABLE DATA").Select(e => e.Id));
        Assert.Contains(lanes[0], e => e.Id == 3526);
        Assert.Contains(lanes[0], e => e.Id == 3516);
        Assert.Equal([3514, 3512], lanes[1].Select(e => e.Id));
        Assert.All(lanes, lane => Assert.Equal(lane.Select(e => Array.IndexOf(Toc, e)).Order(), lane.Select(e => Array.IndexOf(Toc, e))));
    }

    [Fact]
    public void Should_Write_Each_Entry_As_One_List_Line_Whatever_Its_Name()
    {
        var line = Toc.Single(e => e.Id == 3356).ListLine;

        Assert.StartsWith("3356; 1259 16588 INDEX ", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
    }

    [Theory]
    [InlineData("CREATE INDEX i ON public.t USING btree (a);", "public.t")]
    [InlineData("CREATE UNIQUE INDEX \"my idx\" ON ONLY \"My Schema\".\"t \"\"x\"\"\" USING btree (a);", "My Schema.t \"x\"")]
    [InlineData("ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);", "public.t")]
    [InlineData("CREATE TRIGGER x AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION f();", null)]
    public void Should_Find_The_Table_A_Statement_Is_On(string sql, string? table) => Assert.Equal(table, ArchiveToc.TableOf(sql));
}
