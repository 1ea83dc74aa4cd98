using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// Schema changes on the source while an online migration follows, carried to the target without copying again:
/// new partitions (made with PARTITION OF, a default one, sub-partitions, a filled table attached) and a new
/// table with its sequence, foreign key and index, while an application writes. Compared outside the tool: the
/// harness's catalogs, rows and pg_dump --schema-only, and exact row counts with plain SQL.
/// </summary>
[Heavy(125)]
public class OnlineSchemaCarryTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    private const string Schema = """
        CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
        INSERT INTO customers (name) SELECT 'c' || g FROM generate_series(1, 100) g;
        CREATE SEQUENCE event_ids START 100000;
        CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, what text, customer int REFERENCES customers,
                             PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE INDEX ON events (customer);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        INSERT INTO events SELECT g, DATE '2024-01-01' + (g % 300), 'e' || g, 1 + g % 100 FROM generate_series(1, 2000) g;
        """;

    /// <summary>What a nightly job and a deploy do while the migration follows, each statement its own transaction.</summary>
    private static readonly string[] Deploys =
    [
        // A partition made for tomorrow, written in the same transaction and after.
        "BEGIN; CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01'); INSERT INTO events SELECT nextval('event_ids'), DATE '2025-02-01' + g, 'new', 2 FROM generate_series(1, 20) g; COMMIT;",
        "INSERT INTO events SELECT nextval('event_ids'), DATE '2025-06-01' + g, 'later', 3 FROM generate_series(1, 30) g;",
        // A default partition, and sub-partitions made ahead of their rows.
        "CREATE TABLE events_default PARTITION OF events DEFAULT;",
        "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY RANGE (id);",
        "CREATE TABLE events_2026_a PARTITION OF events_2026 FOR VALUES FROM (MINVALUE) TO (100100);",
        "CREATE TABLE events_2026_rest PARTITION OF events_2026 DEFAULT;",
        "INSERT INTO events SELECT nextval('event_ids'), DATE '2026-03-01', CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, 4 FROM generate_series(1, 40) g;",
        "INSERT INTO events VALUES (nextval('event_ids'), DATE '2031-01-01', 'far', 5);",
        // A table filled first, then attached (pg_partman's way), then written through the parent.
        "CREATE TABLE events_2027 (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);",
        "INSERT INTO events_2027 SELECT nextval('event_ids'), DATE '2027-01-01' + g, 'before attach', 6 FROM generate_series(1, 50) g;",
        "ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');",
        "INSERT INTO events VALUES (nextval('event_ids'), DATE '2027-06-06', 'after attach', 7);",
        // A new table with its sequence, a foreign key and an index, rows written right after it was created.
        "CREATE TABLE invoices (id bigserial PRIMARY KEY, customer int NOT NULL REFERENCES customers, total numeric(10,2) DEFAULT 0, note text);",
        "CREATE INDEX invoices_customer ON invoices (customer);",
        "INSERT INTO invoices (customer, total) SELECT 1 + g % 100, g FROM generate_series(1, 200) g;",
    ];

    [Fact]
    public async Task Should_Carry_New_Partitions_And_Tables_While_An_Application_Writes()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("carried");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await using var events = ApplicationWriter.Start(source, "INSERT INTO events VALUES (nextval('event_ids'), DATE '2024-05-05', 'app', 9)");
        foreach (var deploy in Deploys)
        {
            if (deploy.Contains("ATTACH PARTITION events_2027", StringComparison.Ordinal))
            {
                // Made a plain table on the target first, as it was on the source, then attached at the attach's place.
                Assert.True(
                    await Eventually.Holds(async () => await PgServer.ScalarAsync<bool>(target, "SELECT to_regclass('public.events_2027') IS NOT NULL"), TimeSpan.FromMinutes(1), TimeSpan.FromMilliseconds(200)),
                    "events_2027 did not reach the target before its attach: " + string.Join("\n", run.Journal().Log.TakeLast(20)));
            }

            await PgServer.ExecuteAsync(source, deploy);
        }

        await using var invoices = ApplicationWriter.Start(source, "INSERT INTO invoices (customer, total) VALUES (10, 1.5)");
        await PgServer.ExecuteAsync(source, "UPDATE invoices SET note = 'paid' WHERE id <= 20; DELETE FROM events WHERE what = 'before attach' AND at < DATE '2027-01-10';");
        var arrived = await Eventually.Holds(
            async () => await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname IN ('events_2025', 'events_default', 'events_2026_a', 'events_2026_rest', 'events_2027', 'invoices')") == 6
                        && await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM invoices WHERE note = 'paid'") == 20,
            TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(500));
        Assert.True(arrived, "The new partitions and table did not reach the target: " + (run.Result.IsCompleted ? (await run.Result).ToString() : string.Join("\n", run.Journal().Log.TakeLast(20))));
        await run.CutoverAsync(id);
        await events.StopAsync();
        await invoices.StopAsync();

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "events_2024", "events_2025", "events_default", "events_2026_a", "events_2026_rest", "events_2027", "invoices", "customers");

        Assert.Equal(2L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM events_2027 WHERE what IN ('before attach', 'after attach') AND at >= DATE '2027-01-10' AND at < DATE '2027-01-12'"));
        Assert.Equal(MigrationStatus.Completed, MigrationJournal.All(dir.Path).Single().Status);
    }

    [Fact]
    public async Task Should_Stop_On_A_New_Partition_With_On_Schema_Change_Stop()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("stopped");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, "--on-schema-change", "stop");
        await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, Deploys[0]);
        var result = await run.Result.WaitAsync(TimeSpan.FromMinutes(3));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("events_2025 is not on the target", result.Output, StringComparison.Ordinal);
        Assert.Null(await PgServer.ScalarAsync<string>(target, "SELECT to_regclass('events_2025')::text"));
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Resume_After_A_Kill_While_A_New_Partition_Is_Created_On_The_Target()
    {
        var source = await servers.SourceAsync(Schema);
        var target = await servers.Target.CreateDatabaseAsync("killed");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path, new Dictionary<string, string> { [FaultInjection.Variable] = "kill:follow:table-defined" });
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(source, Deploys[0]);

        Assert.Equal(137, (await run.Result).ExitCode);
        // The partition and its rows were one target transaction with the position: none of it is there.
        Assert.Null(await PgServer.ScalarAsync<string>(target, "SELECT to_regclass('events_2025')::text"));
        await PgServer.ExecuteAsync(source, Deploys[1]);
        foreach (var deploy in Deploys[^3..])
        {
            await PgServer.ExecuteAsync(source, deploy);
        }

        var resumed = OnlineRun.Resume(source, target, dir.Path, id);
        await resumed.WaitForFollowAsync();
        var arrived = await Eventually.Holds(
            async () => await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname IN ('events_2025', 'invoices')") == 2
                        && await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM ONLY invoices") == 200,
            TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(500));
        Assert.True(arrived, "The partition and the table did not reach the target after the resume: " + (resumed.Result.IsCompleted ? (await resumed.Result).ToString() : string.Join("\n", MigrationJournal.Load(dir.Path, id).Log.TakeLast(20))));
        await resumed.CutoverAsync(id);

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "events_2024", "events_2025", "invoices");
    }

    [Fact]
    public async Task Should_Wait_For_A_Table_It_Cannot_Publish_And_Carry_It_Once_Its_Owner_Is_Changed()
    {
        var source = await servers.SourceAsync(Schema);
        var admin = servers.Source.Cluster.Superuser(source.Database);
        var target = await servers.Target.CreateDatabaseAsync("waited");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();
        await PgServer.ExecuteAsync(admin, "DROP ROLE IF EXISTS carry_other; CREATE ROLE carry_other; CREATE TABLE public.foreign_owned (id int PRIMARY KEY, v text); ALTER TABLE public.foreign_owned OWNER TO carry_other; INSERT INTO public.foreign_owned SELECT g, 'v' || g FROM generate_series(1, 30) g;");

        // The follow goes on and carries the rest while the table waits.
        await PgServer.ExecuteAsync(source, Deploys[0]);
        await Eventually.True(async () => await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname = 'events_2025'") == 1 && await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM ONLY events_2025") == 20, TimeSpan.FromMinutes(1), "The follow did not go on while it waited.");
        Assert.False(run.Result.IsCompleted);
        Assert.Null(await PgServer.ScalarAsync<string>(target, "SELECT to_regclass('foreign_owned')::text"));

        // Status says what waits.
        await Eventually.True(async () => (await CliRunner.RunAsync(["status", id, "--once", "--workdir", run.WorkDir], null)).Output.Contains("waiting to carry \"public\".\"foreign_owned\"", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "status did not name the table waiting to be carried.");

        // A cutover asked meanwhile is refused, naming the table: switching would leave it behind.
        var refused = await CliRunner.RunAsync(["cutover", id, "--workdir", run.WorkDir], null, OnlineRun.Patience);
        Assert.True(refused.ExitCode == 1 && refused.Output.Contains("\"public\".\"foreign_owned\" cannot be carried to the target yet", StringComparison.Ordinal), refused.ToString());
        Assert.False(run.Result.IsCompleted);
        await PgServer.ExecuteAsync(source, "INSERT INTO events VALUES (nextval('event_ids'), DATE '2024-05-06', 'still writable', 1)");

        // The user gives it to the migration's role: carried at the next look, rows written meanwhile included.
        await PgServer.ExecuteAsync(admin, $"INSERT INTO public.foreign_owned VALUES (31, 'late'); ALTER TABLE public.foreign_owned OWNER TO \"{source.User}\";");
        await PgServer.ExecuteAsync(source, "UPDATE foreign_owned SET v = 'changed' WHERE id <= 5;");
        await Eventually.True(async () => await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname = 'foreign_owned'") == 1 && await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM foreign_owned WHERE v = 'changed'") == 5, TimeSpan.FromMinutes(1), "The table was not carried once its owner changed.");
        await run.CutoverAsync(id);

        await DatabaseSnapshot.AssertIdenticalAsync(source, target, "foreign_owned");
    }
}
