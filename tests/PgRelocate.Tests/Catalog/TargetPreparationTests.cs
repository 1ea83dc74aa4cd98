using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Preflight;
using PgRelocate.Preflight.Checks;
using PgRelocate.Progress;
using PgRelocate.Targets;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Catalog;

/// <summary>Preparing provider-like targets: what check and restore say of them, and what emptying leaves.</summary>
[Heavy(80)]
public class TargetPreparationTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Measure_The_Round_Trip_Only_When_Asked()
    {
        var target = await ProviderTargets.CreateAsync(server);

        var unasked = await TargetPreparation.CheckAsync(target, new TargetRequirements(), CancellationToken.None);
        var asked = await TargetPreparation.CheckAsync(target, new TargetRequirements { MeasureRoundTrip = true }, CancellationToken.None);

        Assert.Equal(TimeSpan.Zero, unasked.RoundTrip);
        Assert.True(asked.RoundTrip > TimeSpan.Zero);
    }

    [Fact]
    public async Task Should_Leave_The_Providers_Extensions_In_Place_When_Replacing_A_Complete_Target_Twice()
    {
        var source = await server.CreateDatabaseAsync("src");
        await server.ExecuteAsync(source.Database, "CREATE EXTENSION hstore; CREATE EXTENSION pg_trgm");
        await PgServer.ExecuteAsync(source, """
            CREATE SCHEMA shop;
            CREATE TABLE shop.items (id int PRIMARY KEY, tags hstore, name text);
            CREATE INDEX ON shop.items USING gin (name gin_trgm_ops);
            INSERT INTO shop.items SELECT g, hstore('n', g::text), 'item ' || g FROM generate_series(1, 50) g;
            CREATE AGGREGATE public.total(int) (sfunc = int4pl, stype = int);
            """);
        var target = await ProviderTargets.CreateAsync(server);
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());

        var first = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);
        var second = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);
        var third = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.True(third.ExitCode == 0, third.ToString());
        Assert.Equal(ProviderTargets.ProviderExtensions, await ProviderTargets.SurvivingAsync(target));
        Assert.Equal(50, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM shop.items WHERE tags -> 'n' IS NOT NULL"));
    }

    [Fact]
    public async Task Should_Empty_A_Target_With_An_Extension_In_Its_Own_Schema_And_Keep_That_Schema()
    {
        var target = await ProviderTargets.CreateAsync(server);
        await PgServer.ExecuteAsync(target, """
            CREATE EXTENSION cube;
            CREATE SCHEMA shop;
            CREATE TABLE shop.orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tags hstore, box cube, email partman.citext);
            CREATE TABLE public.notes (id serial PRIMARY KEY, body text);
            CREATE VIEW public.recent AS SELECT * FROM public.notes;
            CREATE TYPE public.mood AS ENUM ('ok');
            CREATE DOMAIN public.positive AS int CHECK (VALUE > 0);
            CREATE FUNCTION public.one() RETURNS int LANGUAGE sql AS 'SELECT 1';
            CREATE AGGREGATE public.total(int) (sfunc = int4pl, stype = int);
            SELECT lo_from_bytea(0, 'x');
            """);
        var prepared = await TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database }, CancellationToken.None);

        await prepared.EmptyAsync(NullReporter.Instance, CancellationToken.None);

        Assert.NotEmpty(prepared.Objects);
        Assert.Equal(ProviderTargets.ProviderExtensions, await ProviderTargets.SurvivingAsync(target));
        Assert.Equal(0, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_extension WHERE extname = 'cube'"));
        Assert.Equal(1, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'partman'"));
        var again = await TargetPreparation.CheckAsync(target, new TargetRequirements(), CancellationToken.None);
        Assert.Empty(again.Objects);
    }

    [Fact]
    public async Task Should_Agree_With_Check_On_Whether_Each_Target_Is_Empty()
    {
        var source = await server.CreateDatabaseAsync("src");
        var providerOnly = await ProviderTargets.CreateAsync(server);
        var withTable = await ProviderTargets.CreateAsync(server);
        await PgServer.ExecuteAsync(withTable, "CREATE TABLE public.leftover (id int)");
        var withSchema = await server.CreateDatabaseAsync("dst");
        await PgServer.ExecuteAsync(withSchema, "CREATE SCHEMA staging");
        var plain = await server.CreateDatabaseAsync("dst");

        foreach (var (target, empty) in new[] { (providerOnly, true), (withTable, false), (withSchema, false), (plain, true) })
        {
            var rows = await PgRelocate.Tests.Preflight.Checks.RunAsync(new TargetEmptyCheck(), source, target);
            var checkSaysEmpty = Assert.Single(rows, r => r.Check == "target empty").Status == CheckStatus.Ok;
            var restoreSaysEmpty = await RefusesAsNotEmptyAsync(target) is null;

            Assert.True(checkSaysEmpty == restoreSaysEmpty, $"{target.Database}: check says empty {checkSaysEmpty}, restore says empty {restoreSaysEmpty}");
            Assert.Equal(empty, checkSaysEmpty);
        }
    }

    [Fact]
    public async Task Should_Refuse_Before_Touching_The_Target_When_An_Extension_Needs_A_Superuser()
    {
        var source = await server.CreateDatabaseAsync("src");
        await server.ExecuteAsync(source.Database, "CREATE EXTENSION pageinspect");
        await PgServer.ExecuteAsync(source, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g");
        var target = await ProviderTargets.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "CREATE TABLE keep_me (id int)");
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());

        var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target));
        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database);

        Assert.Equal(3, check.ExitCode);
        Assert.Contains("pageinspect", check.Stdout, StringComparison.Ordinal);
        Assert.Contains("CREATE EXTENSION pageinspect", check.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, restore.ExitCode);
        Assert.Contains("only a superuser may create on the target: pageinspect", restore.Stderr, StringComparison.Ordinal);
        // One wording: the row `check` shows is the restore's refusal.
        var lines = check.Stdout.Split('\n').Select(l => l.Trim()).ToList();
        var row = lines.FindIndex(l => l.StartsWith("BLOCK extensions: ", StringComparison.Ordinal));
        Assert.True(row >= 0 && lines[row + 1].StartsWith("next: ", StringComparison.Ordinal), check.Stdout);
        Assert.Contains($"{lines[row]["BLOCK extensions: ".Length..]} {lines[row + 1]["next: ".Length..]} Nothing was changed.", restore.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", restore.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relname = 'keep_me'"));
    }

    [Fact]
    public async Task Should_Say_Which_Session_It_Waits_For_And_Give_Up_After_The_Lock_Timeout()
    {
        var target = await ProviderTargets.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "CREATE TABLE busy (id int); INSERT INTO busy VALUES (1)");
        await using var app = new NpgsqlConnection(target.WithApplicationName("billing-api").ToNpgsqlConnectionString());
        await app.OpenAsync();
        await using var tx = await app.BeginTransactionAsync();
        await Db.ExecuteAsync(app, "SELECT * FROM busy", CancellationToken.None);
        var reporter = new RecordingReporter();
        var prepared = await TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database, LockTimeout = TimeSpan.FromSeconds(3) }, CancellationToken.None);

        var e = await Assert.ThrowsAsync<PgRelocateException>(() => prepared.EmptyAsync(reporter, CancellationToken.None));

        Assert.Contains("billing-api", e.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", e.Message, StringComparison.Ordinal);
        Assert.Contains(reporter.Lines, l => l.Contains("waits for a lock held by", StringComparison.Ordinal) && l.Contains("billing-api", StringComparison.Ordinal) && l.Contains(target.User, StringComparison.Ordinal));
        await tx.RollbackAsync();
        Assert.Equal(1, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM busy"));
    }

    [Fact]
    public async Task Should_Give_Up_After_The_Lock_Timeout_Given_To_Restore()
    {
        var source = await server.CreateDatabaseAsync("src");
        await PgServer.ExecuteAsync(source, "CREATE TABLE busy (id int)");
        var target = await ProviderTargets.CreateAsync(server);
        await PgServer.ExecuteAsync(target, "CREATE TABLE busy (id int); INSERT INTO busy VALUES (1)");
        using var dir = new TempDir();
        var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", dir.File("a.dump"));
        Assert.True(dump.ExitCode == 0, dump.ToString());
        await using var app = new NpgsqlConnection(target.WithApplicationName("nightly-report").ToNpgsqlConnectionString());
        await app.OpenAsync();
        await using var tx = await app.BeginTransactionAsync();
        await Db.ExecuteAsync(app, "SELECT * FROM busy", CancellationToken.None);

        var restore = await CliRunner.RunAsync("restore", dir.File("a.dump"), "--target", CliRunner.Url(target), "--confirm", target.Database, "--lock-timeout", "2");

        Assert.Equal(1, restore.ExitCode);
        Assert.Contains("nightly-report", restore.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed.", restore.Stderr, StringComparison.Ordinal);
        await tx.RollbackAsync();
        Assert.Equal(1, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM busy"));
    }

    [Fact]
    public async Task Should_Refuse_A_Target_Another_Migration_Holds_Or_That_Takes_No_Writes()
    {
        var held = await server.CreateDatabaseAsync("dst");
        var readOnly = await server.CreateDatabaseAsync("dst");
        await server.ExecuteAsync("postgres", $"ALTER DATABASE {Db.Ident(readOnly.Database)} SET default_transaction_read_only = on");
        await using var other = new NpgsqlConnection(held.WithApplicationName("pgrelocate migrate").ToNpgsqlConnectionString());
        await other.OpenAsync();
        Assert.True(await PgRelocate.Catalog.MigrationLock.TryAcquireAsync(other, CancellationToken.None));

        var heldError = await Assert.ThrowsAsync<UsageException>(() => TargetPreparation.CheckAsync(held, new TargetRequirements(), CancellationToken.None));
        var ownLock = await TargetPreparation.CheckAsync(held, new TargetRequirements { OwnSessions = [other.ProcessID] }, CancellationToken.None);
        var readOnlyError = await Assert.ThrowsAsync<UsageException>(() => TargetPreparation.CheckAsync(readOnly, new TargetRequirements(), CancellationToken.None));
        var tooMany = await Assert.ThrowsAsync<UsageException>(() => TargetPreparation.CheckAsync(held, new TargetRequirements { OwnSessions = [other.ProcessID], Sessions = SessionCount.PerJob(100_000) }, CancellationToken.None));

        Assert.Contains("application 'pgrelocate migrate'", heldError.Message, StringComparison.Ordinal);
        Assert.Contains(held.User, heldError.Message, StringComparison.Ordinal);
        Assert.False(ownLock.Blocked);
        Assert.Contains("default_transaction_read_only", readOnlyError.Message, StringComparison.Ordinal);
        Assert.Contains("more connections", tooMany.Message, StringComparison.Ordinal);
        Assert.Contains("100000 are needed (100000 jobs)", tooMany.Message, StringComparison.Ordinal);
        Assert.Matches(@"or run with --jobs (\d+) \(\1 connections\)\.", tooMany.Message);
    }

    [Fact]
    public async Task Should_Refuse_A_Target_Older_Than_The_Source_Or_The_Source_Itself_Before_Emptying()
    {
        var target = await server.CreateDatabaseAsync("dst");
        await PgServer.ExecuteAsync(target, "CREATE TABLE marker (id int)");
        await using var conn = await Db.OpenAsync(target, "target", CancellationToken.None);
        var major = (await PgRelocate.Catalog.ServerVersion.ReadAsync(conn, CancellationToken.None)).Major;
        var itself = await PgRelocate.Catalog.DatabaseIdentity.ReadAsync(conn, CancellationToken.None);

        var older = await Assert.ThrowsAsync<UsageException>(() => TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database, SourceMajor = major + 1 }, CancellationToken.None));
        var same = await TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database, SourceMajor = major }, CancellationToken.None);
        var onItself = await Assert.ThrowsAsync<UsageException>(() => TargetPreparation.CheckAsync(target, new TargetRequirements { Confirm = target.Database, Source = itself }, CancellationToken.None));
        var refused = await Assert.ThrowsAsync<UsageException>(() => TargetPreparation.RefuseSameDatabaseAsync(target, target, CancellationToken.None));

        Assert.Contains($"older than the source's {major + 1}", older.Message, StringComparison.Ordinal);
        Assert.EndsWith("Nothing was changed.", older.Message, StringComparison.Ordinal);
        Assert.Contains(same.Findings, f => f.Check == "target version" && f.Status == CheckStatus.Ok);
        Assert.Equal(onItself.Message, refused.Message);
        Assert.Contains("same database", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM marker"));
    }

    private static async Task<string?> RefusesAsNotEmptyAsync(PgConnectionInfo target)
    {
        try
        {
            await TargetPreparation.CheckAsync(target, new TargetRequirements(), CancellationToken.None);
            return null;
        }
        catch (UsageException e) when (e.Message.Contains("is not empty", StringComparison.Ordinal))
        {
            return e.Message;
        }
    }
}
