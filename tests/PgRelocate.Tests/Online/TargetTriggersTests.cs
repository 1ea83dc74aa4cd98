using Npgsql;
using NpgsqlTypes;
using PgRelocate.Clusters;
using PgRelocate.Connections;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// A target whose whole lock table holds fewer locks than it has tables with triggers: max_locks_per_transaction
/// 10 (the least the server takes) for 20 connections and the server's own processes (no WAL senders, no
/// background workers), about 250 locks, fewer than 600 tables' ALTER TABLE in one transaction take. (The tool
/// sizes its batches from the lock table, so a small table and 600 tables try what a 64-lock table and 3,000 would.)
/// </summary>
public class TinyLockTableServer : PgServer
{
    protected override LocalClusterOptions Options => base.Options with
    {
        Settings = new Dictionary<string, string> { ["max_locks_per_transaction"] = "10", ["max_connections"] = "20", ["max_wal_senders"] = "0", ["max_worker_processes"] = "0" },
    };
}

/// <summary>The same lock table on PostgreSQL 12, whose partitions' copies of a trigger are internal.</summary>
public sealed class TinyLockTable12Server : TinyLockTableServer
{
    protected override LocalClusterOptions Options => base.Options with { ServerBinDir = EmbeddedServers.BinDir(12) };
}

/// <inheritdoc cref="TargetTriggersCases"/>
[Heavy(40)]
public class TargetTriggersTests(TinyLockTableServer server) : TargetTriggersCases(server), IClassFixture<TinyLockTableServer>;

/// <inheritdoc cref="TargetTriggersCases"/>
[Heavy(40)]
public class TargetTriggers12Tests(TinyLockTable12Server server) : TargetTriggersCases(server), IClassFixture<TinyLockTable12Server>;

/// <summary>
/// The online apply's disabled triggers (<see cref="TargetState"/>) on a target of 600 tables with triggers,
/// more than its lock table holds in one transaction: disabled and re-enabled in batches, each in its original
/// mode, and finished by the next run after a stop at any point. Compared from pg_trigger, not from our record.
/// </summary>
public abstract class TargetTriggersCases(TinyLockTableServer server)
{
    internal const int Tables = 600;

    /// <summary>The partitioned table's trigger and its copies on the partitions, internal or not, with their modes.</summary>
    private const string ClonesSql = "SELECT string_agg(tgrelid::regclass::text || ' ' || tgenabled::text, ', ' ORDER BY tgrelid::regclass::text) FROM pg_trigger WHERE tgname = 'events_audit'";

    [Fact]
    public async Task Should_Disable_And_Restore_600_Tables_Triggers_In_Batches_That_Fit_A_Small_Lock_Table()
    {
        var target = await server.CreateDatabaseAsync("trig");
        await BuildAsync(target);
        var before = await TriggersAsync(target);
        var clones = await PgServer.ScalarAsync<string>(target, ClonesSql);
        Assert.True(before.Count > Tables, $"{before.Count} triggers");
        Assert.Contains(before, t => t.Mode == 'A');
        Assert.Contains(before, t => t.Mode == 'R');
        Assert.Contains(before, t => t.Mode == 'D');
        await using var conn = await Db.OpenAsync(target, "target", CancellationToken.None);

        await TargetState.CreateAsync(conn, "trig_slot", NpgsqlLogSequenceNumber.Parse("0/16B3748"), CancellationToken.None);

        Assert.Equal(0, await EnabledAsync(target));
        // The partitions' copies of the partitioned table's trigger too, from PostgreSQL 13; on 12 they are
        // system triggers that only a superuser may alter, left enabled (a known limit, docs/online.md's Limits).
        var twelve = conn.PostgreSqlVersion.Major < 13;
        Assert.Equal(twelve ? 5 : 0, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_trigger WHERE tgname = 'events_audit' AND tgenabled <> 'D'"));
        Assert.NotNull(await TargetState.ReadAsync(conn, "trig_slot", CancellationToken.None));

        await TargetState.RemoveAsync(conn, CancellationToken.None);

        Assert.Equal(before, await TriggersAsync(target));
        Assert.Equal(clones, await PgServer.ScalarAsync<string>(target, ClonesSql));
        Assert.Null(await PgServer.ScalarAsync<string>(target, $"SELECT to_regnamespace('{OnlineNames.TargetSchema}')::text"));
    }

    [Fact]
    public async Task Should_Finish_Disabling_On_A_Resumed_Follow_And_Finish_Restoring_On_A_Later_Remove_After_Stops_Halfway()
    {
        var target = await server.CreateDatabaseAsync("half");
        await BuildAsync(target);
        var before = await TriggersAsync(target);
        await using var conn = await Db.OpenAsync(target, "target", CancellationToken.None);
        await TargetState.CreateAsync(conn, "half_slot", NpgsqlLogSequenceNumber.Parse("0/16B3748"), CancellationToken.None);

        // A run killed while disabling: the record is committed, a third of its triggers still enabled.
        await AlterAsync(target, before.Where((t, i) => t.Mode != 'D' && i % 3 == 0).Select(t => Enable(t)));
        Assert.True(await EnabledAsync(target) > Tables / 4);
        // The snapshot copy's step run again: the record keeps the modes of the triggers already disabled.
        await TargetState.CreateAsync(conn, "half_slot", NpgsqlLogSequenceNumber.Parse("0/16B3748"), CancellationToken.None);
        await AlterAsync(target, before.Where((t, i) => t.Mode != 'D' && i % 4 == 0).Select(t => Enable(t)));
        // The follow resumed.
        await TargetState.DisableAsync(conn, CancellationToken.None);

        Assert.Equal(0, await EnabledAsync(target));

        // A cutover killed while re-enabling: half of them back in their modes, the schema still there.
        await AlterAsync(target, before.Where((t, i) => t.Mode != 'D' && i % 2 == 0).Select(t => Enable(t)));
        await TargetState.RemoveAsync(conn, CancellationToken.None);
        await TargetState.RemoveAsync(conn, CancellationToken.None);

        Assert.Equal(before, await TriggersAsync(target));
        Assert.Null(await PgServer.ScalarAsync<string>(target, $"SELECT to_regnamespace('{OnlineNames.TargetSchema}')::text"));
    }

    private static string Enable((string Table, string Trigger, char Mode) t) =>
        $"ALTER TABLE ONLY {t.Table} ENABLE {t.Mode switch { 'A' => "ALWAYS ", 'R' => "REPLICA ", _ => "" }}TRIGGER {Db.Ident(t.Trigger)}";

    /// <summary>Runs the statements twenty to a transaction, which the lock table holds.</summary>
    private static async Task AlterAsync(PgConnectionInfo db, IEnumerable<string> statements)
    {
        foreach (var chunk in statements.Chunk(20))
        {
            await PgServer.ExecuteAsync(db, "BEGIN;\n" + string.Join(";\n", chunk) + ";\nCOMMIT");
        }
    }

    /// <summary>Every user trigger and its mode, from pg_trigger ("schema.table" as regclass prints it).</summary>
    internal static async Task<List<(string Table, string Trigger, char Mode)>> TriggersAsync(PgConnectionInfo db)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2", conn);
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<(string, string, char)>();
        while (await r.ReadAsync())
        {
            list.Add((r.GetString(0), r.GetString(1), r.GetChar(2)));
        }

        return list;
    }

    internal static async Task<long> EnabledAsync(PgConnectionInfo db) =>
        await PgServer.ScalarAsync<long>(db, $"SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relnamespace <> coalesce(to_regnamespace('{OnlineNames.TargetSchema}'), 0)");

    /// <summary>
    /// 600 tables (without sequences) with an audit trigger each (it logs the row's table in app.audit_log), twenty tables to a
    /// transaction: every third ENABLE ALWAYS,
    /// every third ENABLE REPLICA, every fiftieth disabled by its owner (it stays so); and a partitioned table
    /// whose row trigger every partition clones, one partition's clone in a mode of its own (from PostgreSQL 13, where
    /// the clones are triggers of their own).
    /// </summary>
    internal static async Task BuildAsync(PgConnectionInfo db)
    {
        await PgServer.ExecuteAsync(db, """
            CREATE SCHEMA app;
            CREATE TABLE app.audit_log (id bigserial PRIMARY KEY, tbl text NOT NULL);
            CREATE FUNCTION app.audit() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN INSERT INTO app.audit_log (tbl) VALUES (TG_TABLE_NAME); RETURN NEW; END';
            CREATE TABLE app.events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
            CREATE TRIGGER events_audit AFTER INSERT ON app.events FOR EACH ROW EXECUTE FUNCTION app.audit();
            ALTER TABLE app.events ENABLE ALWAYS TRIGGER events_audit;
            """);
        await PgServer.ExecuteAsync(db, $$"""
            DO $$ BEGIN
            FOR j IN 1..5 LOOP
                EXECUTE format('CREATE TABLE app.events_%s PARTITION OF app.events FOR VALUES FROM (%L) TO (%L)', j, make_date(2000 + j, 1, 1), make_date(2001 + j, 1, 1));
            END LOOP; END $$;
            DO $$ BEGIN
            IF current_setting('server_version_num')::int >= 130000 THEN
                ALTER TABLE ONLY app.events_3 ENABLE REPLICA TRIGGER events_audit;
            END IF; END $$;
            """);
        for (var from = 1; from <= Tables; from += 20)
        {
            await PgServer.ExecuteAsync(db, $$"""
                DO $$ BEGIN
                FOR i IN {{from}}..{{Math.Min(from + 19, Tables)}} LOOP
                    EXECUTE format('CREATE TABLE app.t%s (id int PRIMARY KEY, v text)', i);
                    EXECUTE format('CREATE TRIGGER t%s_audit BEFORE INSERT OR UPDATE ON app.t%s FOR EACH ROW EXECUTE FUNCTION app.audit()', i, i);
                    IF i % 50 = 0 THEN
                        EXECUTE format('ALTER TABLE app.t%s DISABLE TRIGGER t%s_audit', i, i);
                    ELSIF i % 3 = 1 THEN
                        EXECUTE format('ALTER TABLE app.t%s ENABLE ALWAYS TRIGGER t%s_audit', i, i);
                    ELSIF i % 3 = 2 THEN
                        EXECUTE format('ALTER TABLE app.t%s ENABLE REPLICA TRIGGER t%s_audit', i, i);
                    END IF;
                END LOOP; END $$
                """);
        }
    }
}
