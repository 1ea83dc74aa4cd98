using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Online;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>
/// migrate --online of each corpus database into a provider-like target: once it follows, the source's
/// applications go on writing through every awkward path the corpus has (names that need quoting, rows routed
/// into partitions and moved between them, cascading deletes, geometries in a user SRID, a table without a key,
/// TRUNCATE, a new large object); then the cutover, and the same checks as every other path. A table the login
/// role cannot read blocks check --online and the migration, as it blocks check and migrate.
/// </summary>
[Heavy(100)]
public sealed partial class OnlinePathTests(Pg15LogicalCorpus servers) : IClassFixture<Pg15LogicalCorpus>
{
    /// <summary>What the applications write while the migration follows: one source transaction per string.</summary>
    private static readonly Dictionary<string, string[]> Writes = new(StringComparer.Ordinal)
    {
        [Corpus.Gis] =
        [
            """
            INSERT INTO places (name, geom, footprint)
            SELECT 'live place ' || g, ST_SetSRID(ST_MakePoint(5 + g * 0.01, 45), 4326),
                   ST_Transform(ST_Buffer(ST_SetSRID(ST_MakePoint(5 + g * 0.01, 45), 4326)::geography, 20)::geometry, 3857)::geometry(Polygon, 3857)
            FROM generate_series(1, 40) g
            """,
            "UPDATE places SET geom = ST_Translate(geom, 0.5, -0.25), name = name || ' (moved)' WHERE id % 25 = 0",
            "UPDATE places SET footprint = NULL WHERE id BETWEEN 100 AND 110",
            """
            INSERT INTO routes (place_id, path, site_point)
            SELECT 400 + g, ST_SetSRID(ST_MakeLine(ST_MakePoint(g, 2), ST_MakePoint(g + 0.5, 2.5)), 4326), ST_SetSRID(ST_MakePoint(-g, g), 910001)
            FROM generate_series(1, 30) g
            """,
            "UPDATE routes SET site_point = ST_SetSRID(ST_MakePoint(id, -id), 910001), path = ST_Reverse(path) WHERE id % 50 = 0",
            "DELETE FROM routes WHERE id % 9 = 0 OR place_id BETWEEN 395 AND 400",
            "DELETE FROM places WHERE id BETWEEN 395 AND 400",
        ],
        [Corpus.Billing] =
        [
            // An old month emptied (with its invoices' lines, which reference them), the other months' lines written again.
            """
            TRUNCATE billing.invoices_2021_03, billing.invoice_lines;
            INSERT INTO billing.invoice_lines (invoice_id, issued_on, amount) SELECT id, issued_on, 4.5 FROM billing.invoices WHERE id % 2 = 0
            """,
            // New invoices, routed by the root into their months' partitions.
            """
            INSERT INTO billing.invoices (issued_on, customer_id, total)
            SELECT date '2021-01-15' + g * 37, 1 + g % 120, relocate_demo.amount_of(g * 2.5, 'USD') FROM generate_series(1, 40) g
            """,
            // Rows moved to another partition (their key changes), and keys changed within one.
            """
            UPDATE billing.invoices SET issued_on = CASE WHEN issued_on < '2023-01-01' THEN issued_on + 180 ELSE issued_on - 180 END
            WHERE (total).currency = 'USD' AND id % 3 = 0
            """,
            "UPDATE billing.invoices SET issued_on = date_trunc('month', issued_on)::date WHERE (total).currency = 'USD' AND id % 3 = 1",
            """
            INSERT INTO billing.invoice_lines (invoice_id, issued_on, amount)
            SELECT id, issued_on, 9.99 FROM billing.invoices WHERE (total).currency = 'USD'
            """,
            // A deletion the foreign key cascades to the invoice lines.
            "DELETE FROM billing.invoices WHERE (id, issued_on) IN (SELECT invoice_id, issued_on FROM billing.invoice_lines ORDER BY id LIMIT 10)",
            "DELETE FROM billing.invoice_lines WHERE id % 11 = 0",
            // The customers' trigger fires on the source only: the target gets the values it set.
            """
            UPDATE billing.customers SET attrs = attrs || hstore('region', 'EU "west"'), name = name || ' ✓' WHERE id % 7 = 0;
            INSERT INTO billing.customers (name, attrs) VALUES ('customer with "quotes" and ünïcødé', hstore(ARRAY['a b', 'c"d'], ARRAY['1', NULL]))
            """,
            "UPDATE billing.invoices SET total = relocate_demo.amount_of(((total).value + 1)::numeric, (total).currency) WHERE id % 13 = 0",
            // A TRUNCATE, then its rows back with a new large object.
            """
            TRUNCATE billing.documents;
            INSERT INTO billing.documents SELECT g, 91000 + g FROM generate_series(1, 3) g;
            INSERT INTO billing.documents VALUES (4, lo_from_bytea(0, convert_to('a document written while following', 'UTF8')))
            """,
        ],
        [Corpus.Names] =
        [
            """
            INSERT INTO "Odd ""Schema"".v1"."Order Table" ("Column With Spaces", "quote""d", "ÄÖÜ ñ", "user", "UPPER", "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy", "éééééééééééééééééééééééééééééééx")
            SELECT 'live row ' || g, 'live "' || g || '"', 'ÿes "quoted"'::"Odd ""Schema"".v1"."Mood Type", '  Live User ' || g || ' ', ROW(g::float8, -g::float8)::"Ünïcødé Schéma"."Pöint.Type", g, g
            FROM generate_series(1, 25) g
            """,
            """
            UPDATE "Odd ""Schema"".v1"."Order Table" SET "quote""d" = NULL, "ÄÖÜ ñ" = 'not ok', "UPPER" = ROW(1.5, 2.5), "user" = ' Changed '
            WHERE "Select" % 10 = 0
            """,
            // A key changed (rows nothing references), and rows deleted.
            "UPDATE \"Odd \"\"Schema\"\".v1\".\"Order Table\" SET \"Select\" = \"Select\" + 10000 WHERE \"Select\" BETWEEN 300 AND 310",
            "DELETE FROM \"Odd \"\"Schema\"\".v1\".\"Order Table\" WHERE \"Select\" BETWEEN 320 AND 330",
            """
            TRUNCATE "Ünïcødé Schéma"."Tabelle ß";
            INSERT INTO "Ünïcødé Schéma"."Tabelle ß" SELECT g, 42 + g, 'nach TRUNCATE ß ' || g FROM generate_series(1, 30) g
            """,
            // A table without a key (REPLICA IDENTITY FULL for the migration): duplicate rows, changed and deleted one by one on the target.
            """
            INSERT INTO public."TABLE" VALUES (1, 'group 1', false), (2, 'group 2', true);
            UPDATE public."TABLE" SET "group" = "group" || ' "x"' WHERE "from" % 5 = 0;
            DELETE FROM public."TABLE" WHERE "from" IN (1, 8);
            UPDATE public."TABLE" SET "WHERE" = NOT "WHERE" WHERE "from" = 2
            """,
            """
            UPDATE "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy"."Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy"
            SET "éééééééééééééééééééééééééééééééx" = 'ü ' || "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy" WHERE "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy" % 2 = 0;
            DELETE FROM "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy"."Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy" WHERE "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy" = 3;
            INSERT INTO "Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy"."Long Name Of Exactly Sixty Three Bytes, With Spaces And Dots.Xy" ("éééééééééééééééééééééééééééééééx") VALUES ('written while following')
            """,
            "SELECT nextval('\"Odd \"\"Schema\"\".v1\".\"Seq.Number \"\"1\"\"\"') FROM generate_series(1, 5)",
        ],
    };

    /// <summary>
    /// What the source provider's superuser writes while the migration follows, before the applications' writes:
    /// rows of the extensions' configuration tables, which no publication of the login role can carry.
    /// </summary>
    private static readonly Dictionary<string, string> ProviderWrites = new(StringComparer.Ordinal)
    {
        [Corpus.Gis] = """
            INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
            VALUES (910002, 'relocate', 910002, 'LOCAL_CS["relocate second grid",LOCAL_DATUM["site",0],UNIT["metre",1]]', '')
            """,
        [Corpus.Billing] = """
            UPDATE relocate_demo.settings SET value = 'EU-central' WHERE name = 'tax region';
            INSERT INTO relocate_demo.settings (name, value) VALUES ('invoice "prefix"', 'INV-ß')
            """,
    };

    [Theory]
    [InlineData(Corpus.Gis)]
    [InlineData(Corpus.Billing)]
    [InlineData(Corpus.Names)]
    public async Task Should_Follow_Writes_Through_Awkward_Paths_And_Switch_To_A_Provider_Target_Losing_Nothing(string database)
    {
        var source = servers[database];
        var target = await servers.Provider.CreateDatabaseAsync(database + "_online");
        using var dir = new TempDir();
        // names has a table without a key. With the estimate the other online tests leave out: it measures a provider-like target too.
        var run = OnlineRun.Start(source, target, dir.Path, database == Corpus.Names ? ["--replica-identity-full", "--estimate-seconds", "3"] : ["--estimate-seconds", "3"]);
        try
        {
            var id = await run.WaitForFollowAsync();

            if (ProviderWrites.TryGetValue(database, out var provider))
            {
                await servers.Source.ExecuteAsync(source.Database, provider);
            }

            long written = 0;
            foreach (var sql in Writes[database])
            {
                written += await WriteAsync(source, sql);
            }

            // At least one change per row the statements reported (cascades, moves between partitions and TRUNCATE add more).
            await run.WaitForChangesAsync(written);
            await run.CutoverAsync(id);
        }
        finally
        {
            // A failed cell leaves no migration following behind it.
            if (!run.Result.IsCompleted)
            {
                run.Process?.Kill(entireProcessTree: true);
            }
        }

        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
        await AssertNothingLeftAsync(source, target);
        Assert.Equal(MigrationStatus.Completed, run.Journal().Status);
        Assert.Contains(run.Journal().Log, l => l.Contains("Estimate: online: copy about ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_Block_Check_Online_And_The_Online_Migration_On_A_Table_The_Login_Role_Cannot_Read()
    {
        var source = servers[Corpus.Unreadable];
        var target = await servers.Provider.CreateDatabaseAsync("unreadable_online");

        var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--online");
        using var dir = new TempDir();
        var migrate = await OnlineRun.Start(source, target, dir.Path).Result;

        Assert.True(check.ExitCode == 3, check.ToString());
        Assert.Contains("BLOCK readable tables", check.Stdout, StringComparison.Ordinal);
        Assert.Contains(Corpus.UnreadableTable, check.Stdout, StringComparison.Ordinal);
        Assert.True(migrate.ExitCode == 3, migrate.ToString());
        Assert.Contains(Corpus.UnreadableTable, migrate.Output, StringComparison.Ordinal);
        await AssertNothingLeftAsync(source, target);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname = 'readable'"));
    }

    /// <summary>Runs one source transaction; returns the rows its statements reported.</summary>
    private static async Task<long> WriteAsync(PgConnectionInfo source, string sql)
    {
        await using var conn = new NpgsqlConnection(source.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        var rows = await cmd.ExecuteNonQueryAsync();
        await tx.CommitAsync();
        return Math.Max(0, rows);
    }

    /// <summary>No slot, publication or REPLICA IDENTITY FULL of the tool on the source, nor its schema or a publication on the target.</summary>
    private async Task AssertNothingLeftAsync(PgConnectionInfo source, PgConnectionInfo target)
    {
        var admin = servers.Source.Cluster.Superuser(source.Database);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(admin, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(admin, "SELECT count(*) FROM pg_publication"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(admin, "SELECT count(*) FROM pg_class WHERE relreplident = 'f'"));
        Assert.Null(await PgServer.ScalarAsync<string>(target, $"SELECT to_regnamespace('{PgRelocate.Online.OnlineNames.TargetSchema}')::text"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_publication"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relreplident = 'f'"));
    }
}
