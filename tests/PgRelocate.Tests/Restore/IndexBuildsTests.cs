using PgRelocate.Connections;
using PgRelocate.Restore;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Restore;

/// <summary>Which of pg_dump's index statements build a GIN index over jsonb, read from the statement and the target's columns.</summary>
public sealed class IndexBuildsTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    [Theory]
    [InlineData("CREATE INDEX e ON public.events USING gin (payload);", "public.events", "payload", null)]
    [InlineData("CREATE INDEX e ON ONLY public.events USING gin (payload jsonb_path_ops);", "public.events", "payload", "jsonb_path_ops")]
    [InlineData("CREATE INDEX \"Odd\" ON \"My Schema\".\"My \"\"T\"\"\" USING gin (\"Pay Load\");", "\"My Schema\".\"My \"\"T\"\"\"", "Pay Load", null)]
    public void Should_Read_The_Table_Column_And_Operator_Class_Of_A_One_Column_Gin_Index(string sql, string table, string column, string? opclass)
    {
        Assert.Equal((table, column, opclass), IndexBuilds.Parse(sql));
    }

    [Theory]
    [InlineData("CREATE INDEX k ON public.events USING btree (kind, at);")]
    [InlineData("CREATE INDEX t ON public.docs USING gin (body public.gin_trgm_ops);")]
    [InlineData("CREATE INDEX x ON public.docs USING gin (((data -> 'tags'::text)));")]
    [InlineData("CREATE INDEX m ON public.docs USING gin (a, b);")]
    public void Should_Leave_Other_Statements_Alone(string sql)
    {
        Assert.Null(IndexBuilds.Parse(sql));
    }

    [Theory]
    [InlineData("ALTER TABLE ONLY public.pgbench_accounts\n    ADD CONSTRAINT pgbench_accounts_pkey PRIMARY KEY (aid);\n",
        "CREATE UNIQUE INDEX pgbench_accounts_pkey ON public.pgbench_accounts USING btree (aid)",
        "ALTER TABLE ONLY public.pgbench_accounts ADD CONSTRAINT \"pgbench_accounts_pkey\" PRIMARY KEY USING INDEX \"pgbench_accounts_pkey\"")]
    [InlineData("ALTER TABLE ONLY \"Sales Dept\".\"Big \"\"Q\"\" T\"\n    ADD CONSTRAINT \"Big u\" UNIQUE (\"Code, x\", k) DEFERRABLE INITIALLY DEFERRED;",
        "CREATE UNIQUE INDEX \"Big u\" ON \"Sales Dept\".\"Big \"\"Q\"\" T\" USING btree (\"Code, x\", k)",
        "ALTER TABLE ONLY \"Sales Dept\".\"Big \"\"Q\"\" T\" ADD CONSTRAINT \"Big u\" UNIQUE USING INDEX \"Big u\" DEFERRABLE INITIALLY DEFERRED")]
    [InlineData("ALTER TABLE ONLY s.t\n    ADD CONSTRAINT t_a_key UNIQUE (a) DEFERRABLE;",
        "CREATE UNIQUE INDEX t_a_key ON s.t USING btree (a)",
        "ALTER TABLE ONLY s.t ADD CONSTRAINT \"t_a_key\" UNIQUE USING INDEX \"t_a_key\" DEFERRABLE")]
    public void Should_Build_A_Key_As_Its_Unique_Index_Then_Make_It_The_Key(string sql, string create, string attach)
    {
        Assert.Equal((create, attach), IndexBuilds.KeyIndex(sql));
    }

    [Theory]
    [InlineData("ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id) INCLUDE (name);")]
    [InlineData("ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id) WITH (fillfactor='70');")]
    [InlineData("ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id) USING INDEX TABLESPACE fast;")]
    [InlineData("ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_a_key UNIQUE NULLS NOT DISTINCT (a);")]
    [InlineData("ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n\nALTER TABLE ONLY public.t REPLICA IDENTITY USING INDEX t_pkey;")]
    [InlineData("ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);\n\nALTER TABLE public.t CLUSTER ON t_pkey;")]
    [InlineData("ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_excl EXCLUDE USING gist (r WITH &&);")]
    [InlineData("ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_check CHECK ((a > 0));")]
    [InlineData("ALTER TABLE public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);")]
    public void Should_Restore_Any_Other_Constraint_As_It_Is(string sql)
    {
        Assert.Null(IndexBuilds.KeyIndex(sql));
    }

    [Fact]
    public async Task Should_Tell_Gin_Over_Jsonb_From_Gin_Over_Other_Types_By_The_Targets_Columns()
    {
        var db = await servers.Target.CreateDatabaseAsync("gin_columns");
        await PgServer.ExecuteAsync(db, """
            CREATE SCHEMA "My Schema";
            CREATE TABLE "My Schema"."Docs" ("Body" jsonb, tags text[], plain jsonb);
            """);
        await using var conn = await Db.OpenAsync(db, "target", CancellationToken.None);

        Assert.True(await IndexBuilds.IsOverJsonbAsync(conn, "CREATE INDEX a ON \"My Schema\".\"Docs\" USING gin (\"Body\");", CancellationToken.None));
        Assert.True(await IndexBuilds.IsOverJsonbAsync(conn, "CREATE INDEX b ON \"My Schema\".\"Docs\" USING gin (plain jsonb_path_ops);", CancellationToken.None));
        Assert.False(await IndexBuilds.IsOverJsonbAsync(conn, "CREATE INDEX c ON \"My Schema\".\"Docs\" USING gin (tags);", CancellationToken.None));
        Assert.False(await IndexBuilds.IsOverJsonbAsync(conn, "CREATE INDEX d ON public.missing USING gin (plain);", CancellationToken.None));
    }
}
