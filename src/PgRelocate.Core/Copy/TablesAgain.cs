using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Copy;

/// <summary>
/// Copies some tables again over the copy's own machinery (<see cref="ChunkCopier"/>, the same rows, formats and
/// COPY FREEZE): the online cutover's unlogged tables, whose changes logical decoding never sees. On the target
/// the tables are emptied in one TRUNCATE (tables tied by foreign keys go together) and filled in the same
/// transaction, the referenced ones first, so the target shows either its old rows or all of the source's.
/// </summary>
internal static class TablesAgain
{
    /// <param name="source">A source session outside a transaction; its rows are read in one snapshot.</param>
    /// <param name="target">A target session outside a transaction.</param>
    /// <param name="tables">The tables as <c>schema.table</c>; those the source no longer has are left out.</param>
    /// <returns>The tables copied (<c>schema.table</c>), their rows and bytes.</returns>
    public static async Task<(IReadOnlyList<string> Tables, long Rows, long Bytes)> CopyAsync(
        NpgsqlConnection source, NpgsqlConnection target, IReadOnlyCollection<string> tables, IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tables);
        if (tables.Count == 0)
        {
            return ([], 0, 0);
        }

        await Db.ExecuteAsync(source, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", cancellationToken);
        try
        {
            var chosen = (await SourceSnapshot.ReadTablesAsync(source, cancellationToken))
                .Where(t => t.ConfigCondition is null && tables.Contains(t.Display, StringComparer.Ordinal))
                .ToList();
            var ordered = await ReferencedFirstAsync(source, chosen, cancellationToken);
            long rows = 0, bytes = 0;
            if (ordered.Count > 0)
            {
                // READ COMMITTED: COPY FREEZE refuses a transaction that holds a snapshot from an earlier statement.
                await Db.ExecuteAsync(target, "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE", cancellationToken);
                try
                {
                    await Db.ExecuteAsync(target, $"TRUNCATE {string.Join(", ", ordered.Select(t => "ONLY " + t.Qualified))}", cancellationToken);
                    var totals = new CopyProgressTotals(reporter, ordered.Count);
                    foreach (var table in ordered)
                    {
                        var progress = new TableProgress(reporter, table.Display, table.EstimatedRows, totals);
                        var (r, b) = await ChunkCopier.CopyAsync(source, target, DataChunk.Whole(table), progress, mark: null, cancellationToken, emptied: true);
                        progress.Finish();
                        rows += r;
                        bytes += b;
                    }

                    await Db.ExecuteAsync(target, "COMMIT", cancellationToken);
                }
                catch
                {
                    await RollBackQuietlyAsync(target);
                    throw;
                }
            }

            await Db.ExecuteAsync(source, "COMMIT", cancellationToken);
            return (ordered.Select(t => t.Display).ToList(), rows, bytes);
        }
        catch
        {
            await RollBackQuietlyAsync(source);
            throw;
        }
    }

    /// <summary>The tables ordered so that each comes after the tables its foreign keys reference (a cycle keeps its order).</summary>
    private static async Task<List<CopyTable>> ReferencedFirstAsync(NpgsqlConnection source, List<CopyTable> tables, CancellationToken cancellationToken)
    {
        var oids = tables.Select(t => t.Oid).ToArray();
        var references = new List<(uint From, uint To)>();
        await using (var cmd = new NpgsqlCommand("SELECT conrelid, confrelid FROM pg_catalog.pg_constraint WHERE contype = 'f' AND conrelid = ANY (@oids) AND confrelid = ANY (@oids) AND conrelid <> confrelid", source))
        {
            cmd.Parameters.Add(new NpgsqlParameter("oids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid) { Value = oids });
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                references.Add((r.GetFieldValue<uint>(0), r.GetFieldValue<uint>(1)));
            }
        }

        var ordered = new List<CopyTable>();
        var placed = new HashSet<uint>();
        var left = tables.ToList();
        while (left.Count > 0)
        {
            var ready = left.Where(t => references.All(f => f.From != t.Oid || placed.Contains(f.To))).ToList();
            if (ready.Count == 0)
            {
                ready = [left[0]];
            }

            foreach (var t in ready)
            {
                ordered.Add(t);
                placed.Add(t.Oid);
                left.Remove(t);
            }
        }

        return ordered;
    }

    private static async Task RollBackQuietlyAsync(NpgsqlConnection conn)
    {
        try
        {
            await Db.ExecuteAsync(conn, "ROLLBACK", CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // The session is broken: the server has rolled the transaction back itself.
        }
    }
}
