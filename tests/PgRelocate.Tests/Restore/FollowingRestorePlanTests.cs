using PgRelocate.Restore;

namespace PgRelocate.Tests.Restore;

/// <summary>How a restore that follows a growing archive splits it: lanes of rows, and each table's indexes and keys.</summary>
public sealed class FollowingRestorePlanTests
{
    private static readonly string[] List =
    [
        ";",
        "; Archive created at 2026-11-22 02:04:11 UTC",
        "221; 1259 16573 TABLE public events postgres",
        "218; 1259 16391 TABLE public pgbench_accounts postgres",
        "219; 1259 16394 TABLE public \"odd name\" postgres",
        "3515; 2613 16594 BLOB - 16594 postgres",
        "3514; 0 16573 TABLE DATA public events postgres",
        "3511; 0 16391 TABLE DATA public pgbench_accounts postgres",
        "3512; 0 16394 TABLE DATA public odd name postgres",
        "3526; 0 0 SEQUENCE SET public events_id_seq postgres",
        "3516; 0 0 BLOBS - BLOBS ",
        "3364; 2606 16580 CONSTRAINT public events events_pkey postgres",
        "3358; 2606 16406 CONSTRAINT public pgbench_accounts pgbench_accounts_pkey postgres",
        "3361; 1259 16587 INDEX public events_kind_at postgres",
        "3362; 1259 16586 INDEX public events_payload_gin postgres",
        "3356; 1259 16588 INDEX public odd_idx postgres",
        "3370; 1259 16590 INDEX ATTACH public events_part_idx postgres",
        "3365; 2606 16581 FK CONSTRAINT public events events_aid_fkey postgres",
    ];

    private const string Script = """
        --
        -- PostgreSQL database dump
        --

        SET statement_timeout = 0;
        SELECT pg_catalog.set_config('search_path', '', false);

        --
        -- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
        --

        ALTER TABLE ONLY public.events
            ADD CONSTRAINT events_pkey PRIMARY KEY (id);


        --
        -- Name: pgbench_accounts pgbench_accounts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
        --

        ALTER TABLE ONLY public.pgbench_accounts
            ADD CONSTRAINT pgbench_accounts_pkey PRIMARY KEY (aid);


        --
        -- Name: events_kind_at; Type: INDEX; Schema: public; Owner: -
        --

        CREATE INDEX events_kind_at ON public.events USING btree (kind, at);


        --
        -- Name: events_payload_gin; Type: INDEX; Schema: public; Owner: -
        --

        CREATE INDEX events_payload_gin ON public.events USING gin (payload);


        --
        -- Name: odd_idx; Type: INDEX; Schema: public; Owner: -
        --

        CREATE UNIQUE INDEX odd_idx ON public."odd name" USING btree (id);


        --
        -- PostgreSQL database dump complete
        --

        """;

    [Fact]
    public void Should_Read_The_Kinds_And_Names_Of_Entries_From_A_List()
    {
        var toc = ArchiveToc.Parse(List);

        Assert.Equal(16, toc.Count);
        Assert.Equal([("public.events", 3514), ("public.pgbench_accounts", 3511), ("public.odd name", 3512)], toc.Where(e => e.Kind == TocKind.TableData).Select(e => (e.QualifiedTag, e.Id)));
        Assert.Equal(["events_kind_at", "events_payload_gin", "odd_idx"], toc.Where(e => e.Kind == TocKind.Index).Select(e => e.Tag));
        Assert.Equal(["events events_pkey", "pgbench_accounts pgbench_accounts_pkey"], toc.Where(e => e.Kind == TocKind.Constraint).Select(e => e.Tag));
    }

    [Fact]
    public void Should_Tie_Each_Index_And_Key_To_Its_Table_And_Start_Slow_Indexes_First()
    {
        var plan = FollowingRestore.PlanPostData(ArchiveToc.Parse(List), ArchiveToc.SplitScript(Script));

        Assert.Equal(["public.events", "public.odd name", "public.pgbench_accounts"], plan.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([3362, 3361], plan["public.events"].Indexes.Select(i => i.Id));
        Assert.Equal([3364], plan["public.events"].Constraints.Select(i => i.Id));
        Assert.Equal([3356], plan["public.odd name"].Indexes.Select(i => i.Id));
        Assert.Empty(plan["public.pgbench_accounts"].Indexes);
        Assert.Equal([3358], plan["public.pgbench_accounts"].Constraints.Select(i => i.Id));
    }

    [Fact]
    public void Should_Spread_Tables_Over_Lanes_Largest_First_Each_In_Archive_Order()
    {
        var toc = ArchiveToc.Parse(List);
        var sizes = new Dictionary<string, long> { ["public.events"] = 300, ["public.pgbench_accounts"] = 800, ["public.odd name"] = 100 };

        var lanes = FollowingRestore.PlanLanes(toc, 2, sizes);

        Assert.Equal(2, lanes.Count);
        // Accounts alone on the first lane, with every entry that is not table rows (the section filter keeps the data ones).
        Assert.Equal([3511], lanes[0].Where(e => e.Kind == TocKind.TableData).Select(e => e.Id));
        Assert.Contains(lanes[0], e => e.Id == 3526);
        Assert.Contains(lanes[0], e => e.Id == 3516);
        Assert.Equal([3514, 3512], lanes[1].Select(e => e.Id));
        Assert.All(lanes, lane => Assert.Equal(lane.Select(e => Array.FindIndex(List, l => l.StartsWith(e.Id + ";", StringComparison.Ordinal))).Order(), lane.Select(e => Array.FindIndex(List, l => l.StartsWith(e.Id + ";", StringComparison.Ordinal)))));
    }

    [Fact]
    public void Should_Read_Entry_Ids_From_A_Verbose_Script()
    {
        const string verbose = """
            --
            -- TOC entry 3364 (class 2606 OID 16580)
            -- Dependencies: 221
            -- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
            -- Data Pos: 0
            --

            ALTER TABLE ONLY public.events
                ADD CONSTRAINT events_pkey PRIMARY KEY (id);


            --
            -- TOC entry 3361 (class 1259 OID 16587)
            -- Name: events_kind_at; Type: INDEX; Schema: public; Owner: -
            --

            CREATE INDEX events_kind_at ON public.events USING btree (kind, at);


            --
            -- PostgreSQL database dump complete
            --
            """;

        var entries = ArchiveToc.SplitScript(verbose);

        Assert.Equal([(3364, "CONSTRAINT", "ALTER TABLE ONLY public.events\n    ADD CONSTRAINT events_pkey PRIMARY KEY (id);"), (3361, "INDEX", "CREATE INDEX events_kind_at ON public.events USING btree (kind, at);")],
            entries.Select(e => (e.Id ?? 0, e.Type, e.Sql)));
        Assert.Equal([3361], FollowingRestore.PlanPostData(ArchiveToc.Parse(List), entries)["public.events"].Indexes.Select(i => i.Id));
    }

    [Theory]
    [InlineData("CREATE INDEX i ON public.t USING btree (a);", "public.t")]
    [InlineData("CREATE UNIQUE INDEX \"my idx\" ON ONLY \"My Schema\".\"t \"\"x\"\"\" USING btree (a);", "My Schema.t \"x\"")]
    [InlineData("ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);", "public.t")]
    [InlineData("CREATE TRIGGER x AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION f();", null)]
    public void Should_Find_The_Table_A_Statement_Is_On(string sql, string? table) => Assert.Equal(table, ArchiveToc.TableOf(sql));
}
