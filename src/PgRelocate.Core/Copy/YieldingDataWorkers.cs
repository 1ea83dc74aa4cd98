using Npgsql;
using NpgsqlTypes;
using PgRelocate.Connections;

namespace PgRelocate.Copy;

/// <summary>
/// The data workers of a copy that yields to the application (see <see cref="CopyYield"/>): each takes the units
/// <paramref name="next"/> gives and copies them with the <see cref="UnitLoader"/>, giving up a table rather than
/// block the application or fail.
/// </summary>
/// <param name="next">The next unit to copy, shared with the other workers; null once there is none.</param>
internal sealed class YieldingDataWorkers(CopyOptions options, string snapshotId, CopyYield yield, WorkGate gate, UnitLoader loader, IndexWorkers indexes, Func<DataChunk[]?> next)
{
    /// <summary>
    /// A data worker that gives tables up rather than block the application or fail: each unit's tables are locked in a
    /// savepoint, copied, and let go at its end (the savepoint rolled back: the snapshot stays). A table it cannot lock,
    /// or that changed since the snapshot, is given up before its copy begins; one the watch gives up while it is copied
    /// ends the unit: its sessions are closed (the source's locks go with the reader, the target's rows with the writer's
    /// transaction) and opened again, and the unit's other tables are copied without it. A table given up counts as
    /// copied here (its indexes are built on what the target has): the caller copies it again.
    /// </summary>
    public async Task WorkerAsync(CancellationToken cancellationToken)
    {
        NpgsqlConnection? reader = null;
        NpgsqlConnection? writer = null;
        try
        {
            while (next() is { } unit)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var slot = await gate.EnterAsync(priority: false, cancellationToken, light: unit is not [_]);
                while (true)
                {
                    unit = GivenUp(unit);
                    if (unit.Length == 0)
                    {
                        break;
                    }

                    reader ??= await CopySessions.OpenReaderAsync(options.Source, snapshotId, cancellationToken);
                    writer ??= await CopySessions.OpenWriterAsync(options, cancellationToken);
                    using var watched = yield.Watch(reader.ProcessID, [.. unit.Where(c => c.Table is not null).Select(c => c.Table!)], cancellationToken);
                    try
                    {
                        if (!await TakeAsync(reader, unit, watched.Token))
                        {
                            // Some were given up: the others go without them (what the savepoint locked is let go first).
                            await Db.ExecuteAsync(reader, "ROLLBACK TO SAVEPOINT pgrelocate_unit; RELEASE SAVEPOINT pgrelocate_unit", cancellationToken);
                            continue;
                        }

                        if (unit is [var chunk])
                        {
                            await loader.CopyChunkAsync(reader, writer, chunk, watched.Token, locked: true);
                        }
                        else
                        {
                            await loader.CopySmallAsync(reader, writer, unit, watched.Token, locked: true);
                        }

                        await Db.ExecuteAsync(reader, "ROLLBACK TO SAVEPOINT pgrelocate_unit; RELEASE SAVEPOINT pgrelocate_unit", cancellationToken);
                        break;
                    }
                    catch (Exception e) when (!cancellationToken.IsCancellationRequested && yield.GivesUp(e, watched))
                    {
                        await CloseQuietlyAsync(reader);
                        await CloseQuietlyAsync(writer);
                        (reader, writer) = (null, null);
                    }
                }
            }
        }
        finally
        {
            await CloseQuietlyAsync(reader);
            await CloseQuietlyAsync(writer);
        }
    }

    /// <summary>The unit without its tables given up, which count as copied (their indexes are queued once their table's last chunk is counted).</summary>
    private DataChunk[] GivenUp(DataChunk[] unit)
    {
        var left = unit.Where(c => c.Table is null || !yield.Has(c.Table.Oid)).ToArray();
        var small = new List<CopyTable>();
        foreach (var chunk in unit.Where(c => !left.Contains(c)).Where(loader.Committed))
        {
            if (SmallTables.Fits(chunk))
            {
                small.Add(chunk.Table!);
            }
            else
            {
                indexes.QueueIndexes(chunk.Table!);
            }
        }

        if (small.Count > 0)
        {
            indexes.QueueSmallIndexes(small);
        }

        return left;
    }

    /// <summary>
    /// Opens the unit's savepoint and locks its tables in it (NOWAIT), then checks that each still has the file the
    /// snapshot saw: a TRUNCATE or a rewrite (ALTER TABLE, VACUUM FULL, CLUSTER) committed since gives it a new one,
    /// in which the snapshot sees no row. False when a table was given up (the savepoint is still open).
    /// </summary>
    private async Task<bool> TakeAsync(NpgsqlConnection reader, DataChunk[] unit, CancellationToken cancellationToken)
    {
        var tables = unit.Where(c => c.Table is not null).Select(c => c.Table!).DistinctBy(t => t.Oid).ToList();
        await Db.ExecuteAsync(reader, "SAVEPOINT pgrelocate_unit", cancellationToken);
        if (tables.Count == 0)
        {
            return true;
        }

        if (await TryLockAsync(reader, tables, cancellationToken) is not null)
        {
            // Which one is taken: each in a savepoint of its own.
            foreach (var table in tables)
            {
                if (await TryLockAsync(reader, [table], cancellationToken) is { } refused)
                {
                    yield.Yield(table, refused == PostgresErrorCodes.UndefinedTable
                        ? "was dropped or renamed during the copy"
                        : "was locked exclusively by another session when its copy began (a TRUNCATE, ALTER TABLE or DROP)");
                }
            }

            return false;
        }

        await using var cmd = new NpgsqlCommand("SELECT c.oid FROM pg_catalog.pg_class c WHERE c.oid = ANY (@tables) AND c.relfilenode IS DISTINCT FROM pg_catalog.pg_relation_filenode(c.oid)", reader);
        cmd.Parameters.AddWithValue("tables", NpgsqlDbType.Array | NpgsqlDbType.Oid, tables.Select(t => t.Oid).ToArray());
        var changed = new List<uint>();
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                changed.Add(r.GetFieldValue<uint>(0));
            }
        }

        foreach (var table in tables.Where(t => changed.Contains(t.Oid)))
        {
            yield.Yield(table, "was truncated or rewritten during the copy");
        }

        return changed.Count == 0;
    }

    /// <summary>
    /// Locks the tables (NOWAIT) in a savepoint: null once they are, else the refusal's SQLSTATE (another session locks
    /// one, or one is gone), with the savepoint rolled back.
    /// </summary>
    private static async Task<string?> TryLockAsync(NpgsqlConnection reader, IReadOnlyList<CopyTable> tables, CancellationToken cancellationToken)
    {
        try
        {
            await Db.ExecuteAsync(reader, $"SAVEPOINT pgrelocate_lock; LOCK TABLE ONLY {string.Join(", ", tables.Select(t => t.Qualified))} IN ACCESS SHARE MODE NOWAIT; RELEASE SAVEPOINT pgrelocate_lock", cancellationToken);
            return null;
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.UndefinedTable)
        {
            await Db.ExecuteAsync(reader, "ROLLBACK TO SAVEPOINT pgrelocate_lock; RELEASE SAVEPOINT pgrelocate_lock", cancellationToken);
            return e.SqlState;
        }
    }

    private static async Task CloseQuietlyAsync(NpgsqlConnection? conn)
    {
        if (conn is null)
        {
            return;
        }

        try
        {
            await conn.DisposeAsync();
        }
        catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException or OperationCanceledException)
        {
            // Closed anyway: the server ends its session, rolling back what it held.
        }
    }
}
