using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Online;

/// <summary>
/// A target table matched to the source's description of it, with the statements that apply its changes.
/// Built when the stream describes a table (first use, or after the source's table changed): a difference in
/// columns stops the apply, since every later change could land in the wrong place.
/// </summary>
internal sealed class TargetTable
{
    private static readonly string[] NoEquality = ["json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"];

    private readonly SourceRelation _source;
    private readonly string[] _casts;
    private readonly bool[] _textCompare;

    private TargetTable(SourceRelation source, string qualified, bool partitioned, bool foreignKeyActions, string[] types)
    {
        _source = source;
        Qualified = qualified;
        Partitioned = partitioned;
        ForeignKeyActions = foreignKeyActions;
        _casts = types;
        _textCompare = types.Select(t => NoEquality.Any(n => t == n || t.StartsWith(n + "[", StringComparison.Ordinal))).ToArray();
    }

    public string Qualified { get; }

    public bool Partitioned { get; }

    /// <summary>
    /// The table's foreign keys cascade, or set null or a default, on the target as on the source: the change the
    /// stream then carries for a row may already be made (a row deleted), so it may find no row.
    /// </summary>
    public bool ForeignKeyActions { get; }

    public string Display => _source.Display;

    /// <exception cref="PgRelocateException">The table is missing on the target or its columns differ from the source's.</exception>
    public static async Task<TargetTable> DescribeAsync(NpgsqlConnection conn, SourceRelation source, CancellationToken cancellationToken)
    {
        var qualified = Db.Ident(source.Schema) + "." + Db.Ident(source.Name);
        var columns = new Dictionary<string, string>(StringComparer.Ordinal);
        var partitioned = false;
        var foreignKeyActions = false;
        await using (var cmd = new NpgsqlCommand(
            """
            SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', c.relkind = 'p',
                   EXISTS (SELECT 1 FROM pg_catalog.pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f'
                           AND (f.confdeltype IN ('c', 'n', 'd') OR f.confupdtype IN ('c', 'n', 'd')))
            FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            WHERE a.attrelid = pg_catalog.to_regclass(@name) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """, conn))
        {
            cmd.Parameters.AddWithValue("name", qualified);
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                partitioned = r.GetBoolean(3);
                foreignKeyActions = r.GetBoolean(4);
                if (!r.GetBoolean(2))
                {
                    columns[r.GetString(0)] = r.GetString(1);
                }
            }
        }

        if (columns.Count == 0)
        {
            throw SchemaChanged(source, $"table {source.Display} is not on the target");
        }

        var extra = columns.Keys.Except(source.Columns, StringComparer.Ordinal).ToList();
        var missing = source.Columns.Except(columns.Keys, StringComparer.Ordinal).ToList();
        if (extra.Count > 0 || missing.Count > 0)
        {
            var what = string.Join("; ", new[]
            {
                missing.Count > 0 ? $"the source has column{(missing.Count == 1 ? "" : "s")} {string.Join(", ", missing)} the target lacks" : null,
                extra.Count > 0 ? $"the target has column{(extra.Count == 1 ? "" : "s")} {string.Join(", ", extra)} the source no longer sends" : null,
            }.Where(s => s is not null));
            throw SchemaChanged(source, $"table {source.Display} changed on the source: {what}");
        }

        return new TargetTable(source, qualified, partitioned, foreignKeyActions, source.Columns.Select(c => columns[c]).ToArray());
    }

    private static PgRelocateException SchemaChanged(SourceRelation source, string what) =>
        new($"Follow stopped: {what}. What was applied before it is kept; the replication slot and publication are removed. Apply the same schema change to the target, then start again with 'pgrelocate migrate --resume ID' (which copies again), or cancel.", ExitCode.Failed);

    public NpgsqlBatchCommand Insert(RowValues row)
    {
        var cols = new List<string>();
        var values = new List<string>();
        var cmd = new NpgsqlBatchCommand();
        for (var i = 0; i < row.Values.Length; i++)
        {
            cols.Add(Db.Ident(_source.Columns[i]));
            values.Add(Param(cmd, row.Values[i]) + "::" + _casts[i]);
        }

        cmd.CommandText = $"INSERT INTO {Qualified} ({string.Join(", ", cols)}) OVERRIDING SYSTEM VALUE VALUES ({string.Join(", ", values)})";
        return cmd;
    }

    /// <summary>An UPDATE of one row; null when nothing it could set changed (every value an unchanged TOASTed one).</summary>
    public NpgsqlBatchCommand? Update(UpdateChange change)
    {
        var cmd = new NpgsqlBatchCommand();
        var sets = new List<string>();
        for (var i = 0; i < change.New.Values.Length; i++)
        {
            // Unchanged TOASTed values are not in the stream: the target's are the same. A key the UPDATE did
            // not change is left alone too (an identity column GENERATED ALWAYS refuses even its own value).
            if (change.New.Unchanged[i] || (change.Old is null && _source.Key[i]))
            {
                continue;
            }

            sets.Add($"{Db.Ident(_source.Columns[i])} = {Param(cmd, change.New.Values[i])}::{_casts[i]}");
        }

        if (sets.Count == 0)
        {
            return null;
        }

        var where = Where(cmd, change.Old ?? change.New, change.OldIsFullRow);
        cmd.CommandText = $"UPDATE {Qualified} SET {string.Join(", ", sets)} WHERE {where}";
        return cmd;
    }

    public NpgsqlBatchCommand Delete(DeleteChange change)
    {
        var cmd = new NpgsqlBatchCommand();
        var where = Where(cmd, change.Old, change.OldIsFullRow);
        cmd.CommandText = $"DELETE FROM {Qualified} WHERE {where}";
        return cmd;
    }

    private string Where(NpgsqlBatchCommand cmd, RowValues row, bool fullRow)
    {
        var terms = new List<string>();
        for (var i = 0; i < row.Values.Length; i++)
        {
            var isKey = _source.Key[i];
            if ((!fullRow && !isKey) || row.Unchanged[i])
            {
                continue;
            }

            var column = Db.Ident(_source.Columns[i]);
            var p = Param(cmd, row.Values[i]);
            terms.Add(fullRow
                ? _textCompare[i] ? $"{column}::text IS NOT DISTINCT FROM {p}" : $"{column} IS NOT DISTINCT FROM {p}::{_casts[i]}"
                : $"{column} = {p}::{_casts[i]}");
        }

        if (terms.Count == 0)
        {
            throw new PgRelocateException($"A change to {Display} carries no key to find its row (replica identity NOTHING?): set a primary key or REPLICA IDENTITY FULL on the source, then start again.", ExitCode.Failed);
        }

        // Without a key, rows may be duplicates: change exactly one of them, as the source did.
        return fullRow
            ? $"(tableoid, ctid) = (SELECT tableoid, ctid FROM {Qualified} WHERE {string.Join(" AND ", terms)} LIMIT 1)"
            : string.Join(" AND ", terms);
    }

    private static string Param(NpgsqlBatchCommand cmd, string? value)
    {
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value });
        return "$" + cmd.Parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
