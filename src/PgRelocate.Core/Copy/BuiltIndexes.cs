using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Copy;

/// <summary>
/// The index builds and key constraints of a resumed copy that the target holds already with the same definition,
/// though its record does not say so: a killed copy's session that went on and committed an index the record does
/// not name. They count as done (<see cref="CopyRecord"/>'s items), as a build of the same name would fail.
/// </summary>
internal static class BuiltIndexes
{
    /// <summary>The items of <paramref name="schema"/>'s index builds and constraints already on the target, of those <paramref name="done"/> does not hold.</summary>
    public static async Task<List<string>> ReadAsync(NpgsqlConnection conn, IReadOnlyList<CopyTable> tables, SchemaArchive schema, IReadOnlySet<string> done, CancellationToken cancellationToken)
    {
        var built = new List<string>();
        var copied = tables.Where(t => schema.Indexes.ContainsKey(t.Oid)).ToList();
        if (copied.Count == 0)
        {
            return built;
        }

        await Db.ExecuteAsync(conn, "SELECT pg_catalog.set_config('search_path', '', false)", cancellationToken);
        await using var cmd = new NpgsqlCommand(CatalogSql.Load("Copy/BuiltIndexes.sql"), conn);
        cmd.Parameters.AddWithValue("schemas", copied.Select(t => t.Schema).ToArray());
        cmd.Parameters.AddWithValue("names", copied.Select(t => t.Name).ToArray());
        var there = new List<(string Table, string Definition, KeyConstraint? Key)>();
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                var definition = r.GetString(2);
                var key = r.IsDBNull(3) ? null : new KeyConstraint(0, r.GetString(3), r.GetBoolean(4), r.GetBoolean(5), r.GetBoolean(6), r.GetString(7), definition);
                there.Add((r.GetString(0) + "." + r.GetString(1), definition, key));
            }
        }

        foreach (var table in copied)
        {
            var onTable = there.Where(i => i.Table == table.Display).ToList();
            foreach (var index in schema.Indexes[table.Oid])
            {
                var item = CopyRecord.IndexItem("index", table, index.Name);
                var same = onTable.Where(i => Statement(i.Definition) == Statement(index.Sql)).ToList();
                if (same.Count > 0 && !done.Contains(item))
                {
                    built.Add(item);
                }

                var constraint = CopyRecord.IndexItem("constraint", table, index.Name);
                if (index.AttachSql is { } attach && !done.Contains(constraint) && same.Any(i => i.Key?.Attach(table.Qualified) == attach))
                {
                    built.Add(constraint);
                }
            }
        }

        return built;
    }

    /// <summary>A statement as pg_get_indexdef writes it: no final semicolon, no surrounding space.</summary>
    private static string Statement(string sql) => sql.Trim().TrimEnd(';').TrimEnd();
}
