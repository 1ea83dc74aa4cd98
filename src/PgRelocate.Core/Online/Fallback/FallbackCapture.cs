using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Online.Fallback;

/// <summary>
/// The way back's capture on the target: the queue, its sequence and trigger function in the tool's schema
/// (<c>CaptureCreate.sql</c>), and on every user table a row trigger (INSERT, UPDATE, DELETE) and a statement
/// TRUNCATE trigger, created by the login role as the tables' owner (no REPLICATION needed), in transactions that
/// fit the lock table. Both are safe to repeat after a stop at any point.
/// </summary>
internal static class FallbackCapture
{
    public const string RowTrigger = "pgrelocate_fallback_row";

    public const string TruncateTrigger = "pgrelocate_fallback_truncate";

    private const string Schema = OnlineNames.TargetSchema;

    /// <summary>The queue on disk: what <c>--max-fallback-queue</c> limits.</summary>
    public const string QueueSizeSql = $"SELECT coalesce(pg_catalog.pg_total_relation_size(pg_catalog.to_regclass('{Schema}.fallback_queue')), 0)";

    /// <summary>Creates the queue and the triggers on the tables that lack them; returns how many tables are captured.</summary>
    public static async Task<int> CreateAsync(NpgsqlConnection target, CancellationToken cancellationToken)
    {
        var (tables, locks) = await TablesAndLocksAsync(target, cancellationToken);
        // The queue and its functions in the first batch's transaction: at the switch each round trip is the wait of
        // the application behind PgBouncer.
        await InBatchesAsync(target, [.. tables.Where(t => !t.Captured).Select(t => t.Name)], Triggers, locks, cancellationToken, first: FallbackSql.CaptureCreate);
        return tables.Count;
    }

    /// <summary>The statements that put the capture's triggers on a table (quoted, qualified name).</summary>
    public static string Triggers(string table) =>
        $"CREATE TRIGGER {RowTrigger} AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {Schema}.fallback_capture();\n"
        + $"CREATE TRIGGER {TruncateTrigger} AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {Schema}.fallback_capture();\n"
        // Fired in every session, one with session_replication_role = replica too (a restore, a replication tool).
        + $"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {RowTrigger}, ENABLE ALWAYS TRIGGER {TruncateTrigger}";

    /// <summary>Drops the triggers, then the tool's schema with the queue: nothing of the way back stays on the target.</summary>
    public static async Task RemoveAsync(NpgsqlConnection target, CancellationToken cancellationToken)
    {
        await Db.ExecuteAsync(target, "SET default_transaction_read_only = off", cancellationToken);
        var (tables, locks) = await TablesAndLocksAsync(target, cancellationToken);
        var captured = tables.Where(t => t.Captured).Select(t => t.Name).ToList();
        await InBatchesAsync(target, captured, t => $"DROP TRIGGER IF EXISTS {RowTrigger} ON {t};\nDROP TRIGGER IF EXISTS {TruncateTrigger} ON {t}", locks, cancellationToken);
        await Db.ExecuteAsync(target, $"DROP SCHEMA IF EXISTS {Schema} CASCADE", cancellationToken);
    }

    /// <summary>True when the queue is on the target (the capture was created and not removed since).</summary>
    public static async Task<bool> ExistsAsync(NpgsqlConnection target, CancellationToken cancellationToken) =>
        await Db.ScalarAsync<string>(target, $"SELECT pg_catalog.to_regclass('{Schema}.fallback_queue')::text", cancellationToken) is not null;

    /// <summary>The user tables of the target (the tool's schema left out), whether captured, and whether the login role may capture them.</summary>
    public static Task<List<(string Name, bool Captured, uint Oid, bool Capturable)>> TablesAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ListAsync(conn, FallbackSql.CaptureTables, ReadTable, cancellationToken);

    /// <summary>A row of <c>CaptureTables.sql</c>.</summary>
    private static (string Name, bool Captured, uint Oid, bool Capturable) ReadTable(NpgsqlDataReader r) =>
        (r.GetString(0), r.GetBoolean(1), r.GetFieldValue<uint>(2), r.GetBoolean(3));

    /// <summary>The user tables (<see cref="TablesAsync"/>) and the lock table, in one round trip.</summary>
    private static async Task<(List<(string Name, bool Captured, uint Oid, bool Capturable)> Tables, LockTable Locks)> TablesAndLocksAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(conn) { BatchCommands = { new(FallbackSql.CaptureTables), new(LockTable.Sql) } };
        await using var r = await batch.ExecuteReaderAsync(cancellationToken);
        var tables = new List<(string Name, bool Captured, uint Oid, bool Capturable)>();
        while (await r.ReadAsync(cancellationToken))
        {
            tables.Add(ReadTable(r));
        }

        await r.NextResultAsync(cancellationToken);
        await r.ReadAsync(cancellationToken);
        return (tables, LockTable.Read(r));
    }

    /// <summary>
    /// The statements for these tables, in transactions that each lock at most a share of the lock table. A
    /// trigger's creation or removal locks its table against writes: an application's long transaction makes it
    /// wait, and every write queued behind it would wait too, so each batch gives up after a few seconds and is
    /// tried again a second later (for up to <see cref="LockAttempts"/> times).
    /// </summary>
    /// <param name="first">Statements for the first transaction, before the tables' (run even when there are no tables).</param>
    private static async Task InBatchesAsync(NpgsqlConnection conn, IReadOnlyList<string> tables, Func<string, string> statements, LockTable locks, CancellationToken cancellationToken, string? first = null)
    {
        var budget = (int)Math.Max(1, locks.Budget - 16);
        IEnumerable<string[]> batches = tables.Chunk(budget);
        if (first is not null && tables.Count == 0)
        {
            batches = [[]];
        }

        foreach (var batch in batches)
        {
            IEnumerable<string> leading = first is null ? [] : [first];
            var sql = string.Join(";\n", [.. leading, "SET LOCAL lock_timeout = '5s'", .. batch.Select(statements)]);
            first = null;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await using var tx = await conn.BeginTransactionAsync(cancellationToken);
                    await Db.ExecuteAsync(conn, sql, cancellationToken);
                    await tx.CommitAsync(cancellationToken);
                    break;
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable && attempt < LockAttempts)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                }
            }
        }
    }

    private const int LockAttempts = 60;
}
