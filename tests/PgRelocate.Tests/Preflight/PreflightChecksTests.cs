using System.Diagnostics;
using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Preflight;
using PgRelocate.Preflight.Checks;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary>Each check's ok, warn and block paths on the system's server: databases set up to differ.</summary>
public class PreflightChecksTests(PreflightServer server) : IClassFixture<PreflightServer>
{
    [Fact]
    public async Task Should_Pass_Every_Check_On_An_Empty_Pair()
    {
        var source = await server.CreateDatabaseAsync("src");
        var target = await server.CreateDatabaseAsync("dst");
        await Checks.WaitForNoOtherSessionsAsync(source);

        var rows = await new PreflightRunner().RunAsync(source, target, new PgRelocate.Tools.PgBinaries(), PgRelocate.Progress.NullReporter.Instance, CancellationToken.None);

        Assert.All(rows.Results, r => Assert.True(r.Status == CheckStatus.Ok, $"{r.Check}: {r.Status} {r.Found}"));
        Assert.False(rows.Blocked);
        Assert.Contains(rows.Results, r => r.Check == "target empty");
        // The size check runs last (it waits for the sizes read ahead), but is listed where the checks' order puts it.
        var names = rows.Results.Select(r => r.Check).ToList();
        Assert.True(names.IndexOf("versions") < names.IndexOf("size") && names.IndexOf("size") < names.IndexOf(PgRelocate.Targets.TargetPreparation.ExtensionsFinding), string.Join(", ", names));
        Assert.Equal("estimated downtime", names[^1]);
    }

    /// <summary>
    /// The table sizes are read ahead in a session of their own. A login role allowed one connection cannot open it:
    /// the size check and the downtime estimate read them in the checks' session instead, with the same findings.
    /// </summary>
    [Fact]
    public async Task Should_Read_The_Sizes_In_The_Checks_Session_When_A_Second_Cannot_Be_Opened()
    {
        var db = await server.CreateDatabaseAsync("onlyone");
        await PgServer.ExecuteAsync(db, "CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g; CREATE TABLE small (id int)");
        await Checks.WaitForNoOtherSessionsAsync(db);
        var report = await server.WithConnectionLimitAsync(db.User, 1, () =>
            new PreflightRunner([new SizeCheck(), new DowntimeCheck()]).RunAsync(db, null, new PgRelocate.Tools.PgBinaries(), PgRelocate.Progress.NullReporter.Instance, CancellationToken.None));

        var size = Assert.Single(report.Results, r => r.Check == "size");
        Assert.Equal(CheckStatus.Ok, size.Status);
        Assert.StartsWith("public.big: ", size.Details[0], StringComparison.Ordinal);
        Assert.StartsWith("public.small: ", size.Details[1], StringComparison.Ordinal);
        Assert.Contains(report.Results, r => r.Check == "estimated downtime" && r.Status == CheckStatus.Ok);
    }

    [Fact]
    public async Task Should_Warn_About_Tables_Without_Primary_Key_And_Unlogged_Tables()
    {
        var db = await server.CreateDatabaseAsync();
        await PgServer.ExecuteAsync(db, "CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE loose (v text); CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY)");

        var pk = await Checks.RunOneAsync(new PrimaryKeysCheck(), db);
        var unlogged = await Checks.RunOneAsync(new UnloggedTablesCheck(), db);

        Assert.Equal(CheckStatus.Warn, pk.Status);
        Assert.Equal(["public.loose"], pk.Details);
        Assert.Equal(CheckStatus.Warn, unlogged.Status);
        Assert.Equal(["public.scratch"], unlogged.Details);
    }

    [Fact]
    public async Task Should_Warn_About_Large_Objects_Event_Triggers_Languages_And_Tablespaces()
    {
        var db = await server.CreateDatabaseAsync();
        await PgServer.ExecuteAsync(db, "SELECT lo_from_bytea(0, 'hello')");
        var space = "ts_" + db.Database;
        var dir = Path.Combine(server.Cluster.RootDir, space);
        Directory.CreateDirectory(dir);
        if (Environment.UserName == "root")
        {
            using var chown = Process.Start("chown", ["postgres", dir]);
            await chown.WaitForExitAsync();
        }

        await server.ExecuteAsync("postgres", $"CREATE TABLESPACE {space} LOCATION '{dir}'");
        await server.ExecuteAsync(db.Database, $"""
            CREATE FUNCTION noop_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
            CREATE EVENT TRIGGER audit_ddl ON ddl_command_end EXECUTE FUNCTION noop_ddl();
            CREATE LANGUAGE plcopy HANDLER plpgsql_call_handler;
            CREATE TABLE placed (id int PRIMARY KEY) TABLESPACE {space};
            """);

        var lo = await Checks.RunOneAsync(new LargeObjectsCheck(), db);
        var triggers = await Checks.RunOneAsync(new EventTriggersCheck(), db);
        var languages = await Checks.RunOneAsync(new LanguagesCheck(), db);
        var spaces = await Checks.RunOneAsync(new TablespacesCheck(), db);

        Assert.Equal(CheckStatus.Warn, lo.Status);
        Assert.StartsWith("1 large objects", lo.Found, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Warn, triggers.Status);
        Assert.Contains("audit_ddl", triggers.Found, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Warn, languages.Status);
        Assert.Contains("plcopy (untrusted", languages.Found, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Warn, spaces.Status);
        Assert.Contains(space, spaces.Found, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Name_Other_Owners_Grants_And_Block_Superuser_Only_Functions_For_A_Non_Superuser_Target()
    {
        var db = await server.CreateDatabaseAsync();
        var target = await server.CreateDatabaseAsync("dst");
        var role = "reporting_" + db.Database;
        await server.ExecuteAsync(db.Database, $"""
            CREATE ROLE {role};
            CREATE SCHEMA reports AUTHORIZATION {role};
            CREATE TABLE public.orders (id int PRIMARY KEY);
            ALTER TABLE public.orders OWNER TO {Db.Ident(db.User)};
            GRANT SELECT ON public.orders TO {role};
            CREATE FUNCTION public.my_lower(text) RETURNS text LANGUAGE internal IMMUTABLE STRICT AS 'lower';
            """);

        var rows = await Checks.RunAsync(new OwnershipCheck(), db, target);
        var sourceOnly = await Checks.RunAsync(new OwnershipCheck(), db);
        var superTarget = await Checks.RunAsync(new OwnershipCheck(), db, server.Cluster.Superuser(target.Database));

        Assert.Equal(CheckStatus.Warn, Checks.Row(rows, "owners").Status);
        Assert.Contains(role, Checks.Row(rows, "owners").Found, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Warn, Checks.Row(rows, "grants").Status);
        Assert.Contains(role, Checks.Row(rows, "grants").Found, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Block, Checks.Row(rows, "superuser-only objects").Status);
        Assert.Contains("my_lower", Checks.Row(rows, "superuser-only objects").Found, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Warn, Checks.Row(sourceOnly, "superuser-only objects").Status);
        Assert.Equal(CheckStatus.Warn, Checks.Row(superTarget, "superuser-only objects").Status);
    }

    [Fact]
    public async Task Should_List_Connected_Applications_And_Open_Transactions()
    {
        var db = await server.CreateDatabaseAsync();
        await using var app = new NpgsqlConnection(db.WithApplicationName("billing-api").ToNpgsqlConnectionString());
        await app.OpenAsync();
        await using var tx = await app.BeginTransactionAsync();
        await Db.ExecuteAsync(app, "SELECT txid_current()", CancellationToken.None);
        // Another session of the checks themselves (the tables' sizes, read ahead while the other checks run): not an application.
        await using var readAhead = new NpgsqlConnection(db.WithApplicationName(PgRelocate.Catalog.ConnectedApplications.CheckApplicationName).ToNpgsqlConnectionString());
        await readAhead.OpenAsync();
        await using var prepared = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await prepared.OpenAsync();
        await Db.ExecuteAsync(prepared, "BEGIN; CREATE TABLE t_prepared (id int); PREPARE TRANSACTION 'pending_" + db.Database + "'", CancellationToken.None);
        try
        {
            var apps = await Checks.RunOneAsync(new ApplicationsCheck(), db);
            var transactions = await Checks.RunAsync(new TransactionsCheck(TimeSpan.Zero), db);
            var patient = await Checks.RunAsync(new TransactionsCheck(TimeSpan.FromDays(1)), db);

            Assert.Equal(CheckStatus.Warn, apps.Status);
            Assert.Contains(apps.Details, d => d.StartsWith($"billing-api: user {db.User} from 127.0.0.1, 1 session", StringComparison.Ordinal));
            Assert.DoesNotContain(apps.Details, d => d.Contains(PgRelocate.Catalog.ConnectedApplications.CheckApplicationName, StringComparison.Ordinal));
            Assert.Equal(CheckStatus.Warn, Checks.Row(transactions, "long transactions").Status);
            Assert.Contains("billing-api", Checks.Row(transactions, "long transactions").Found, StringComparison.Ordinal);
            Assert.Equal(CheckStatus.Ok, Checks.Row(patient, "long transactions").Status);
            Assert.Equal(CheckStatus.Warn, Checks.Row(transactions, "prepared transactions").Status);
            Assert.Contains("pending_", Checks.Row(transactions, "prepared transactions").Found, StringComparison.Ordinal);
        }
        finally
        {
            await Db.ExecuteAsync(prepared, "ROLLBACK PREPARED 'pending_" + db.Database + "'", CancellationToken.None);
        }
    }

    [Fact]
    public async Task Should_Estimate_Size_And_Downtime_And_Warn_Above_Their_Thresholds()
    {
        var db = await server.CreateDatabaseAsync();
        await PgServer.ExecuteAsync(db, "CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 50000) g; ANALYZE big");

        var size = await Checks.RunOneAsync(new SizeCheck(), db);
        var huge = await Checks.RunOneAsync(new SizeCheck(thresholdBytes: 1_000_000), db);
        var downtime = await Checks.RunOneAsync(new DowntimeCheck(), db);
        var slow = await Checks.RunOneAsync(new DowntimeCheck(warnAbove: TimeSpan.Zero), db);

        Assert.Equal(CheckStatus.Ok, size.Status);
        Assert.StartsWith("public.big: ", size.Details[0], StringComparison.Ordinal);
        Assert.Contains("~50,000 rows", size.Details[0], StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Warn, huge.Status);
        Assert.Contains("replication", huge.Next, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Ok, downtime.Status);
        Assert.Contains("measured", downtime.Found, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Warn, slow.Status);
    }

    [Fact]
    public async Task Should_Turn_A_Check_That_Cannot_Run_Into_A_Warning()
    {
        var db = await server.CreateDatabaseAsync();
        // The largest table belongs to a role the login role cannot read: the read-rate sample is refused.
        await server.ExecuteAsync(db.Database, """
            CREATE ROLE secret_owner_role_for_tests;
            CREATE TABLE hidden (id int PRIMARY KEY, v text);
            INSERT INTO hidden SELECT g, repeat('x', 300) FROM generate_series(1, 40000) g;
            ALTER TABLE hidden OWNER TO secret_owner_role_for_tests;
            """.Replace("secret_owner_role_for_tests", "hidden_" + db.Database, StringComparison.Ordinal));

        var rows = await Checks.RunAsync(new DowntimeCheck(), db);
        var after = await Checks.RunOneAsync(new PrimaryKeysCheck(), db);

        var row = Assert.Single(rows);
        Assert.Equal(CheckStatus.Warn, row.Status);
        Assert.StartsWith("Could not run this check (permission denied", row.Found, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Ok, after.Status);
    }

    [Fact]
    public async Task Should_Block_A_Target_That_Is_Not_Empty_Or_Is_The_Source()
    {
        var source = await server.CreateDatabaseAsync();
        var target = await server.CreateDatabaseAsync("dst");
        await PgServer.ExecuteAsync(target, "CREATE TABLE leftover (id int PRIMARY KEY)");

        var empty = await Checks.RunAsync(new TargetEmptyCheck(), source);
        var full = Checks.Row(await Checks.RunAsync(new TargetEmptyCheck(), source, target), "target empty");
        var same = await Checks.RunAsync(new ConnectivityCheck(), source, source);
        var different = await Checks.RunAsync(new ConnectivityCheck(), source, target);

        Assert.Empty(empty);
        Assert.Equal(CheckStatus.Block, full.Status);
        Assert.Contains("table public.leftover", full.Found, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Block, same[1].Status);
        Assert.All(different, r => Assert.Equal(CheckStatus.Ok, r.Status));
        Assert.Contains("no TLS", different[0].Found, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_Block_Another_Encoding_And_Warn_About_Another_Collation()
    {
        var source = await server.CreateDatabaseAsync();
        var latin1 = "latin1_" + source.Database;
        var collateC = "c_" + source.Database;
        await server.ExecuteAsync("postgres", $"CREATE DATABASE {latin1} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
        await server.ExecuteAsync("postgres", $"CREATE DATABASE {collateC} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");

        var same = await Checks.RunOneAsync(new EncodingCheck(), source, await server.CreateDatabaseAsync("dst"));
        var encoding = await Checks.RunOneAsync(new EncodingCheck(), source, server.Cluster.Superuser(latin1));
        var collation = await Checks.RunOneAsync(new EncodingCheck(), source, server.Cluster.Superuser(collateC));

        Assert.Equal(CheckStatus.Ok, same.Status);
        Assert.Equal(CheckStatus.Block, encoding.Status);
        Assert.Contains("LATIN1", encoding.Found, StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Warn, collation.Status);
        Assert.True(EncodingCheck.SameLocale("en_US.UTF-8", "en_US.utf8"));
    }

    [Fact]
    public async Task Should_Block_On_An_Extension_Only_A_Superuser_May_Create_On_The_Target()
    {
        var source = await server.CreateDatabaseAsync();
        var target = await server.CreateDatabaseAsync("dst");
        await server.ExecuteAsync(source.Database, "CREATE EXTENSION pg_stat_statements; CREATE EXTENSION citext");

        var asOwner = await Checks.RunOneAsync(new ExtensionsCheck(), source, target);
        var asSuperuser = await Checks.RunOneAsync(new ExtensionsCheck(), source, server.Cluster.Superuser(target.Database));
        var alone = await Checks.RunOneAsync(new ExtensionsCheck(), source);

        Assert.Equal(CheckStatus.Block, asOwner.Status);
        Assert.Contains("only a superuser may create on the target: pg_stat_statements", asOwner.Found, StringComparison.Ordinal);
        Assert.DoesNotContain("citext", asOwner.Found.Split(':')[^1], StringComparison.Ordinal);
        Assert.Equal(CheckStatus.Ok, asSuperuser.Status);
        Assert.Equal(CheckStatus.Ok, alone.Status);
        Assert.Contains("citext", alone.Found, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("azure", "Azure Database for PostgreSQL")]
    [InlineData("pgaadauth", "Azure Database for PostgreSQL")]
    [InlineData("rds_tools", "AWS RDS")]
    [InlineData("rdsutils", "AWS RDS")]
    [InlineData("google_columnar_engine", "Google Cloud SQL")]
    [InlineData("cloudsql_mysql_replication", "Google Cloud SQL")]
    [InlineData("aiven_extras", "Aiven")]
    [InlineData("citext", null)]
    public void Should_Name_The_Provider_Of_Provider_Only_Extensions(string extension, string? provider) =>
        Assert.Equal(provider, ProviderExtensions.ProviderOf(extension));
}
