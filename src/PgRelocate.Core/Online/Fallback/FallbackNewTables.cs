using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Online.Apply;

namespace PgRelocate.Online.Fallback;

/// <summary>
/// Tables created on the target after the switch (an application's migration, a new partition of a partitioned
/// table): each round of the way back looks for user tables without the capture's triggers and captures them
/// all in one target transaction that locks them against writes (SHARE ROW EXCLUSIVE, waiting a bounded time:
/// a table held by a long transaction is tried again next round), queues the statements that create each (read
/// from the target's catalog by the forward carry's own <see cref="CarriedTable.DescribeAsync"/>, with its
/// partitioned ancestors, the highest first) and the tables it must share a lane with, puts the triggers on it,
/// and queues its rows as inserts (after emptying the old source's copy, for a table dropped and made again).
/// That transaction takes its place in the commit order like any other: every write to the table before it is
/// in its rows (the lock waited for those writers), every write after it is captured by the triggers and comes
/// later in the queue; the old source creates the table at that place, before its first row.
/// </summary>
internal static class FallbackNewTables
{
    /// <summary>The statement the old source runs for a table new to the capture (<c>C</c>) and the table it is tied to (<c>L</c>).</summary>
    public const char Statement = 'C';

    public const char Tie = 'L';

    /// <summary>
    /// Captures the tables the target has that the capture lacks; returns those it could not capture and why (the
    /// login role may not create triggers on them; they are locked): named in the way back's warnings, tried again.
    /// </summary>
    public static async Task<IReadOnlyList<string>> CaptureAsync(NpgsqlConnection target, CancellationToken cancellationToken)
    {
        var tables = (await FallbackCapture.TablesAsync(target, cancellationToken)).Where(t => !t.Captured).ToList();
        var refused = tables.Where(t => !t.Capturable).Select(t => $"{t.Name} (the login role may not create triggers on it: make it the table's owner)").ToList();
        var capturable = tables.Where(t => t.Capturable).ToList();
        if (capturable.Count == 0)
        {
            return refused;
        }

        await using var tx = await target.BeginTransactionAsync(cancellationToken);
        try
        {
            await Db.ExecuteAsync(target, "SET LOCAL lock_timeout = '2s'; SET LOCAL search_path = ''", cancellationToken);
            await Db.ExecuteAsync(target, $"LOCK TABLE {string.Join(", ", capturable.Select(t => t.Name))} IN SHARE ROW EXCLUSIVE MODE", cancellationToken);
            var defined = new List<CarriedTable>();
            foreach (var (_, _, oid, _) in capturable)
            {
                foreach (var at in await LineageAsync(target, oid, cancellationToken))
                {
                    if (!defined.Any(d => d.Relation.Id == at))
                    {
                        defined.Add(await CarriedTable.DescribeAsync(target, at, cancellationToken));
                    }
                }
            }

            // Each table whole before the next is created: emptying one a later one references would be refused.
            foreach (var table in CarriedFile.Ordered(defined))
            {
                await QueueAsync(target, table.Relation.Id, [.. table.Statements.Select(s => (Statement, s)), .. table.Ties.Select(t => (Tie, t))], cancellationToken);
                if (capturable.Any(c => c.Oid == table.Relation.Id))
                {
                    await Db.ExecuteAsync(target, FallbackCapture.Triggers(table.Qualified), cancellationToken);
                    await Db.ExecuteAsync(target, $"SELECT {OnlineNames.TargetSchema}.fallback_enqueue({table.Relation.Id}::oid::regclass)", cancellationToken);
                }
            }

            await tx.CommitAsync(cancellationToken);
            return refused;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            await tx.RollbackAsync(cancellationToken);
            return [.. refused, .. capturable.Select(t => $"{t.Name} (new on the target, locked by a transaction in progress: captured once it ends)")];
        }
    }

    /// <summary>The table and its partitioned ancestors, the highest first (the old source creates those it lacks).</summary>
    private static async Task<List<uint>> LineageAsync(NpgsqlConnection target, uint oid, CancellationToken cancellationToken)
    {
        var lineage = new List<uint> { oid };
        while (await Db.ScalarAsync<uint?>(target, $"SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid WHERE i.inhrelid = {lineage[0]} AND c.relispartition", cancellationToken) is { } parent)
        {
            lineage.Insert(0, parent);
        }

        return lineage;
    }

    private static async Task QueueAsync(NpgsqlConnection target, uint oid, IReadOnlyList<(char Kind, string Text)> rows, CancellationToken cancellationToken)
    {
        foreach (var (kind, text) in rows)
        {
            await using var cmd = new NpgsqlCommand($"INSERT INTO {OnlineNames.TargetSchema}.fallback_queue (rel, kind, new_row) VALUES ($1, $2, $3)", target);
            cmd.Parameters.Add(new NpgsqlParameter { Value = oid, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid });
            cmd.Parameters.Add(new NpgsqlParameter { Value = kind, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.InternalChar });
            cmd.Parameters.AddWithValue(text);
            await cmd.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}
