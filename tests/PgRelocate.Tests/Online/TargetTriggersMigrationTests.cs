using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>A source that can stream its changes and a target with a lock table smaller than its tables with triggers.</summary>
public sealed class TinyLockTableOnlineServers : IAsyncLifetime
{
    public OnlineServers.LogicalServer Source { get; } = new();

    public TinyLockTableServer Target { get; } = new();

    public async Task InitializeAsync() => await Task.WhenAll(Source.InitializeAsync(), Target.InitializeAsync());

    public async Task DisposeAsync() => await Task.WhenAll(Source.DisposeAsync(), Target.DisposeAsync());
}

/// <summary>
/// `migrate --online` of 600 tables with triggers into a target whose lock table holds fewer locks than one
/// transaction altering all of them takes: the triggers are off while following and back in their own modes
/// after the cutover, compared from pg_trigger on both sides.
/// </summary>
[Heavy(55)]
public class TargetTriggersMigrationTests(TinyLockTableOnlineServers servers) : IClassFixture<TinyLockTableOnlineServers>
{
    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Migrate_Online_600_Tables_With_Triggers_Into_A_Small_Lock_Table_And_Restore_Their_Modes()
    {
        var source = await servers.Source.CreateDatabaseAsync("trig");
        await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE \"{source.User}\" REPLICATION");
        await TargetTriggersCases.BuildAsync(source);
        await PgServer.ExecuteAsync(source, "INSERT INTO app.t1 VALUES (1, 'before'); INSERT INTO app.t2 VALUES (1, 'before'); INSERT INTO app.events VALUES (1, '2002-02-02')");
        var modes = await TargetTriggersCases.TriggersAsync(source);
        var target = await servers.Target.CreateDatabaseAsync("trig");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        var id = await run.WaitForFollowAsync();

        Assert.Equal(0, await TargetTriggersCases.EnabledAsync(target));
        var logged = await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.audit_log");
        // Rows into tables of every mode: the source's triggers log them, the target must not log them again.
        // Fifty tables to a transaction: the follow applies each in one transaction, whose locks the target's small
        // lock table must hold.
        await PgServer.ExecuteAsync(source, """
            INSERT INTO app.t1 SELECT g, 'during' FROM generate_series(2, 4) g;
            UPDATE app.t2 SET v = 'changed';
            INSERT INTO app.events VALUES (2, '2003-03-03'), (3, '2004-04-04');
            """);
        for (var from = 1; from <= 300; from += 50)
        {
            await PgServer.ExecuteAsync(source, $"DO $$ BEGIN FOR i IN {from}..{from + 49} LOOP EXECUTE format('INSERT INTO app.t%s VALUES (100, %L)', i, 'during'); END LOOP; END $$");
        }

        Assert.True(await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.audit_log") > logged + 100);
        await run.WaitForChangesAsync(300);
        await run.CutoverAsync(id);

        Assert.Equal(modes, await TargetTriggersCases.TriggersAsync(target));
        Assert.Equal(modes, await TargetTriggersCases.TriggersAsync(source));
        Assert.Equal(
            await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.audit_log"),
            await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM app.audit_log"));
        Assert.Null(await PgServer.ScalarAsync<string>(target, "SELECT to_regnamespace('pgrelocate_online')::text"));
        Assert.Contains("verified identical while following", run.Journal().Step("follow").Summary, StringComparison.Ordinal);
        // Rows compared without our code: pg_dump (DatabaseSnapshot) locks every table in one transaction, more
        // than this target's lock table holds, so the written tables' rows are digested on both sides instead,
        // fifty tables to a query (a query locks each table and its index).
        var tables = Enumerable.Range(1, 300).Select(i => $"SELECT 't{i}:' || t::text AS r FROM app.t{i} t")
            .Append("SELECT 'events:' || e::text AS r FROM app.events e").Append("SELECT 'audit:' || a::text AS r FROM app.audit_log a");
        foreach (var chunk in tables.Chunk(50))
        {
            var digest = $"SELECT count(*) || ' ' || md5(string_agg(r, '|' ORDER BY r)) FROM ({string.Join(" UNION ALL ", chunk)}) x";
            Assert.Equal(await PgServer.ScalarAsync<string>(source, digest), await PgServer.ScalarAsync<string>(target, digest));
        }

        Assert.Equal(
            await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'"),
            await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'"));
    }

    [Fact]
    public async Task Should_Stop_The_Follow_With_The_Servers_Hint_When_One_Source_Transaction_Writes_More_Tables_Than_The_Target_Can_Lock()
    {
        var source = await servers.Source.CreateDatabaseAsync("wide");
        await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE \"{source.User}\" REPLICATION");
        await PgServer.ExecuteAsync(source, "DO $$ BEGIN FOR i IN 1..1000 LOOP EXECUTE format('CREATE TABLE w%s (id int PRIMARY KEY)', i); END LOOP; END $$");
        var target = await servers.Target.CreateDatabaseAsync("wide");
        using var dir = new TempDir();
        var run = OnlineRun.Start(source, target, dir.Path);
        await run.WaitForFollowAsync();

        // One transaction writing 1,000 tables: applied as one, it needs more locks than the target's table holds.
        await PgServer.ExecuteAsync(source, "DO $$ BEGIN FOR i IN 1..1000 LOOP EXECUTE format('INSERT INTO w%s VALUES (1)', i); END LOOP; END $$");
        var result = await run.Result.WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(result.ExitCode == 1, result + "\n" + run.Journal().ErrorDetail);
        Assert.Contains("out of shared memory (53200)", result.Output, StringComparison.Ordinal);
        Assert.Contains("increase max_locks_per_transaction", result.Output, StringComparison.Ordinal);
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM w1"));
    }
}
