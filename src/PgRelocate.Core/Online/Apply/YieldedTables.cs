using Npgsql;
using NpgsqlTypes;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Online.Apply;

/// <summary>
/// The tables the snapshot copy gave up (<see cref="Copy.CopyYield"/>: truncated, rewritten, altered or locked by the
/// application while it copied): copied again at a marker like a column change's (the <c>again</c> file), and, from
/// the follow's start until that marker is applied and committed, their changes left out (the <c>yielded</c> file): the
/// target holds none, some or stale rows of them, on which an UPDATE or a DELETE would find nothing.
/// </summary>
internal sealed class YieldedTables(string folder)
{
    private static readonly string ReferencingSql = CatalogSql.Load("Online/ReferencingTables.sql");

    private readonly object _lock = new();
    private readonly HashSet<string> _yielded = new(StringComparer.Ordinal);

    private string YieldedFile => Path.Combine(folder, "yielded");

    /// <summary>
    /// Records, in the migration's <paramref name="folder"/>, the tables the snapshot copy gave up to copy again while
    /// following, with the tables whose foreign keys reference them (the target empties them together). Returns all the
    /// tables copied again (quoted names): a table gone since (dropped or renamed) is not among them.
    /// </summary>
    public static async Task<IReadOnlyList<string>> RecordAsync(PgConnectionInfo source, string folder, IReadOnlyList<Copy.CopyTable> tables, CancellationToken cancellationToken)
    {
        List<string> all;
        await using (var conn = await Db.OpenAsync(source, "source", cancellationToken))
        await using (var cmd = new NpgsqlCommand(ReferencingSql, conn))
        {
            cmd.Parameters.AddWithValue("tables", NpgsqlDbType.Array | NpgsqlDbType.Oid, tables.Select(t => t.Oid).ToArray());
            all = [];
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                all.Add(Db.Qualified(r.GetString(0), r.GetString(1)));
            }
        }

        var carried = Path.Combine(folder, "carried");
        Directory.CreateDirectory(carried);
        var again = Path.Combine(carried, "again");
        CarriedFile.WriteLines(again, (File.Exists(again) ? File.ReadAllLines(again) : []).Where(l => l.Length > 0).Union(all, StringComparer.Ordinal));
        CarriedFile.WriteLines(Path.Combine(carried, "yielded"), all);
        return all;
    }

    /// <summary>
    /// Reads the tables the snapshot copy gave up whose copy is not applied yet (their changes are left out until it
    /// is), and returns them: the carry copies them again too (a marker written before a restart may have been
    /// applied, and its commit's record not written).
    /// </summary>
    public IReadOnlyList<string> Load()
    {
        if (!File.Exists(YieldedFile))
        {
            return [];
        }

        var tables = File.ReadAllLines(YieldedFile).Where(l => l.Length > 0).ToList();
        lock (_lock)
        {
            _yielded.UnionWith(tables);
        }

        return tables;
    }

    /// <summary>These tables' copies are committed on the target: those the snapshot copy gave up are whole again.</summary>
    public void Unyield(IEnumerable<string> tables)
    {
        lock (_lock)
        {
            if (_yielded.Count > 0 && tables.Count(_yielded.Remove) > 0)
            {
                CarriedFile.WriteLines(YieldedFile, _yielded.Order(StringComparer.Ordinal));
            }
        }
    }
}
