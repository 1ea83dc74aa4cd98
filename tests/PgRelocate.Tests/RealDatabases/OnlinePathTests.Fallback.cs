using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Online;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>
/// migrate --online --fallback of each corpus database into a provider-like target (its login role may not
/// replicate: the way back captures by triggers), the applications then writing to the target through the same
/// awkward paths, one of them creating a table or partition there, and `rollback`: the old source must hold what the target holds, by the same checks as every
/// other path, and neither side may keep anything of the tool; the provider's extensions stay.
/// </summary>
public sealed partial class OnlinePathTests
{
    /// <summary>What the target's applications write to the extensions' configuration tables after the switch (the provider lets them).</summary>
    private static readonly Dictionary<string, string> ConfigurationWrites = new(StringComparer.Ordinal)
    {
        [Corpus.Gis] = """
            INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
            VALUES (910003, 'relocate', 910003, 'LOCAL_CS["relocate grid written on the target",LOCAL_DATUM["site",0],UNIT["metre",1]]', '')
            """,
    };

    /// <summary>What the target's applications change in the schema after the switch, then write there: a new table or partition, named awkwardly.</summary>
    private static readonly Dictionary<string, string> SchemaWrites = new(StringComparer.Ordinal)
    {
        [Corpus.Gis] = """
            CREATE TABLE public."new places" (id int PRIMARY KEY, geom geometry(Point, 4326), "note.text" text);
            INSERT INTO public."new places" VALUES (1, ST_SetSRID(ST_MakePoint(5, 45), 4326), 'made on the target')
            """,
        [Corpus.Billing] = """
            CREATE TABLE billing.invoices_2025_08 PARTITION OF billing.invoices FOR VALUES FROM ('2025-08-01') TO ('2025-09-01');
            INSERT INTO billing.invoices (issued_on, customer_id, total) VALUES ('2025-08-15', 1, relocate_demo.amount_of(12.5, 'USD'))
            """,
        [Corpus.Names] = """
            CREATE TABLE "Odd ""Schema"".v1"."New ""Table"" ü" (id int PRIMARY KEY, "Wert.x" text);
            INSERT INTO "Odd ""Schema"".v1"."New ""Table"" ü" VALUES (1, 'neu "quoted"'), (2, NULL)
            """,
    };

    [Theory]
    [InlineData(Corpus.Gis)]
    [InlineData(Corpus.Billing)]
    [InlineData(Corpus.Names)]
    public async Task Should_Roll_Back_From_A_Provider_Target_Written_Through_Awkward_Paths_Losing_Nothing(string database)
    {
        // A source of its own: the rollback brings the target's writes into it, which the other tests' sources must not get.
        var source = await Corpus.BuildAsync(servers.Source, database);
        await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE \"{source.User}\" REPLICATION");
        var target = await servers.Provider.CreateDatabaseAsync(database + "_back");
        // The old source's login role may write the extensions' configuration tables, as the provider lets the target's.
        await servers.Source.ExecuteAsync(source.Database, $"DO $$ DECLARE t regclass; BEGIN FOR t IN SELECT unnest(extconfig) FROM pg_extension LOOP EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %I', t, '{source.User}'); END LOOP; END $$");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, database == Corpus.Names ? ["--fallback", "--replica-identity-full"] : ["--fallback"]);
        try
        {
            var id = await run.WaitForFollowAsync();
            var cutover = await CliRunner.RunAsync(["cutover", id, "--workdir", dir.Path], null, OnlineRun.Patience);
            Assert.True(cutover.ExitCode == 0, cutover + "\n" + string.Join("\n", run.Journal().Log.TakeLast(40)));
            Assert.Contains("A way back is open", cutover.Stdout, StringComparison.Ordinal);

            if (ConfigurationWrites.TryGetValue(database, out var configuration))
            {
                await PgServer.ExecuteAsync(target, configuration);
            }

            foreach (var sql in Writes[database])
            {
                await WriteAsync(target, sql);
            }

            await WriteAsync(target, SchemaWrites[database]);

            // Some of the writes are applied while the way back follows, the last ones by the rollback's last round.
            await Eventually.True(
                async () => run.Result.IsCompleted ? throw new Xunit.Sdk.XunitException("The migration ended during the way back: " + await run.Result)
                    : OnlineStatus.Read(run.Journal().Folder) is { Phase: OnlinePhases.WayBack, Changes: > 0 },
                OnlineRun.Patience,
                "The way back applied nothing in time.",
                TimeSpan.FromMilliseconds(200));
            // Repeatable: an update, or an insert that takes its key from a sequence.
            await WriteAsync(target, Writes[database][1]);

            var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path], null, OnlineRun.Patience);
            Assert.True(rollback.ExitCode == 0, rollback + "\n" + string.Join("\n", run.Journal().Log.TakeLast(40)));
            Assert.Equal(0, (await run.Result).ExitCode);
        }
        finally
        {
            if (!run.Result.IsCompleted)
            {
                run.Process?.Kill(entireProcessTree: true);
            }
        }

        Assert.Equal(MigrationStatus.Completed, run.Journal().Status);
        // The old source holds the target's rows and schema; the target, read-only, keeps the provider's extensions.
        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
        await AssertNothingLeftAsync(source, target);
        foreach (var side in new[] { source, target })
        {
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(side, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgrelocate%' OR NOT tgisinternal AND tgenabled = 'D'"));
        }

        // The old source takes writes again.
        await WriteAsync(source, Writes[database][1]);
    }
}
