using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Online.Apply;

/// <summary>
/// A target table matched to the source's description of it, with the statements that apply its changes.
/// Built when the stream describes a table (first use, or after the source's table changed): a difference in
/// columns stops the apply, since every later change could land in the wrong place.
/// </summary>
internal sealed class TargetTable
{
    private static readonly string[] NoEquality = ["json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"];

    /// <summary>Type OIDs below this are the server's own, the same on every PostgreSQL server.</summary>
    internal const uint FirstUserOid = 16384;

    private readonly SourceRelation _source;
    private readonly string[] _casts;
    private readonly bool[] _textCompare;

    private TargetTable(SourceRelation source, string qualified, bool partitioned, string[] types, bool coalescable, bool rowsMayVanish, bool deletesTogether)
    {
        _source = source;
        Qualified = qualified;
        Partitioned = partitioned;
        _casts = types;
        _textCompare = types.Select(t => NoEquality.Any(n => t == n || t.StartsWith(n + "[", StringComparison.Ordinal))).ToArray();
        Coalescable = coalescable;
        RowsMayVanish = rowsMayVanish;
        DeletesTogether = deletesTogether;
    }

    public string Qualified { get; }

    public bool Partitioned { get; }

    public string Display => _source.Display;

    /// <summary>The source's description of the table, as the stream sent it.</summary>
    public SourceRelation Source => _source;

    /// <summary>
    /// True when the repeated UPDATEs of one row within a target transaction may be applied as one, at the
    /// last one's place: the row has a key, no other unique index, exclusion constraint or foreign key ties
    /// its other columns to other rows, so no statement in between can tell the difference.
    /// </summary>
    public bool Coalescable { get; }

    /// <summary>
    /// True when the target's own foreign key actions may have made a change before the stream carries it: ON
    /// DELETE CASCADE removes the rows with their parent (the source's cascaded DELETEs then find nothing), and
    /// a cascaded UPDATE, SET NULL or SET DEFAULT changes them, so an UPDATE or DELETE may find no row.
    /// </summary>
    public bool RowsMayVanish { get; }

    /// <summary>
    /// True when a run of DELETEs by key may go as one statement: the table has a key and no foreign key out of
    /// it, so no row of the run can hold another in place (a self-reference with RESTRICT would) or have been
    /// removed by a cascade already. Deleting never breaks a unique index, and rows referencing these from
    /// other tables were deleted before the run, as on the source.
    /// </summary>
    public bool DeletesTogether { get; }

    /// <param name="carry">
    /// Given when the follow carries schema changes: called with the columns the source and the target disagree on,
    /// it changes the target's table to match (true) or cannot (false: the difference stops the apply).
    /// </param>
    /// <exception cref="PgRelocateException">The table is missing on the target or its columns differ from the source's.</exception>
    /// <param name="retyped">Columns of the user's or an extension's types the stream shows retyped, for the carry.</param>
    public static async Task<TargetTable> DescribeAsync(NpgsqlConnection conn, SourceRelation source, CancellationToken cancellationToken, Func<ColumnDifference, Task<bool>>? carry = null, IReadOnlyList<string>? retyped = null)
    {
        var qualified = Db.Qualified(source.Schema, source.Name);
        var (columns, partitioned) = await ColumnsAsync(conn, qualified, cancellationToken);
        if (carry is not null && columns.Count > 0 && ColumnDifference.Of(source, columns, retyped) is { Any: true } difference && await carry(difference))
        {
            (columns, partitioned) = await ColumnsAsync(conn, qualified, cancellationToken);
        }

        var (coalescable, rowsMayVanish, foreignKeys) = columns.Count == 0 ? (false, false, false) : await ConstraintsAsync(conn, qualified, source, cancellationToken);
        return Match(source, columns, partitioned, new TableConstraints(coalescable, rowsMayVanish, foreignKeys));
    }

    /// <summary>The target table's columns (name to type as the target writes it, OID and modifier; generated ones left out), and whether it is partitioned.</summary>
    private static async Task<(Dictionary<string, (string Type, uint TypeId, int TypeModifier)> Columns, bool Partitioned)> ColumnsAsync(NpgsqlConnection conn, string qualified, CancellationToken cancellationToken)
    {
        var columns = new Dictionary<string, (string Type, uint TypeId, int TypeModifier)>(StringComparer.Ordinal);
        var partitioned = false;
        await using var cmd = new NpgsqlCommand(OnlineSql.TargetColumns, conn);
        cmd.Parameters.AddWithValue("name", qualified);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            partitioned = r.GetBoolean(3);
            if (!r.GetBoolean(2))
            {
                columns[r.GetString(0)] = (r.GetString(1), r.GetFieldValue<uint>(4), r.GetInt32(5));
            }
        }

        return (columns, partitioned);
    }

    /// <summary>What the target's catalog says of a table's constraints, as far as the apply cares.</summary>
    /// <param name="Coalescable">No unique index or exclusion constraint beyond the key's columns (see <see cref="Coalescable"/>).</param>
    /// <param name="RowsMayVanish">A foreign key out of it cascades or sets values (see <see cref="RowsMayVanish"/>).</param>
    /// <param name="ForeignKeys">Any foreign key out of it.</param>
    internal sealed record TableConstraints(bool Coalescable, bool RowsMayVanish, bool ForeignKeys);

    /// <summary>
    /// The table matched to the source's description, from what the target's catalog says of it: its columns
    /// (name to type as the target writes it, OID and modifier; generated columns left out), whether it is
    /// partitioned, and its constraints.
    /// </summary>
    /// <exception cref="PgRelocateException">The table is missing on the target or its columns differ from the source's.</exception>
    internal static TargetTable Match(SourceRelation source, IReadOnlyDictionary<string, (string Type, uint TypeId, int TypeModifier)> columns, bool partitioned, TableConstraints constraints)
    {
        var qualified = Db.Qualified(source.Schema, source.Name);
        if (columns.Count == 0)
        {
            throw SchemaChanged(source, $"table {source.Display} is not on the target");
        }

        var (missing, extra, retyped) = ColumnDifference.Of(source, columns);
        if (extra.Count > 0 || missing.Count > 0)
        {
            var what = string.Join("; ", new[]
            {
                missing.Count > 0 ? $"the source has {Sentences.Plural(missing.Count, "column")} {string.Join(", ", missing)} the target lacks" : null,
                extra.Count > 0 ? $"the target has {Sentences.Plural(extra.Count, "column")} {string.Join(", ", extra)} the source no longer sends" : null,
            }.Where(s => s is not null));
            throw SchemaChanged(source, $"table {source.Display} changed on the source: {what}");
        }

        if (retyped.Count > 0)
        {
            throw SchemaChanged(source, $"the type of {Sentences.Plural(retyped.Count, "column")} {string.Join(", ", retyped)} of {source.Display} changed on the source (the target has {string.Join(", ", retyped.Select(c => columns[c].Type))})");
        }

        var keyed = source.Key.Any(k => k);
        return new TargetTable(source, qualified, partitioned, source.Columns.Select(c => columns[c].Type).ToArray(), constraints.Coalescable && keyed, constraints.RowsMayVanish, keyed && !constraints.ForeignKeys);
    }

    /// <summary>What the target's constraints on the table allow: coalescing its UPDATEs; rows deleted by a parent's cascade; any foreign key out of it.</summary>
    private static async Task<(bool Coalescable, bool RowsMayVanish, bool ForeignKeys)> ConstraintsAsync(NpgsqlConnection conn, string qualified, SourceRelation source, CancellationToken cancellationToken)
    {
        var keyColumns = source.Columns.Where((_, i) => source.Key[i]).ToHashSet(StringComparer.Ordinal);
        var coalescable = keyColumns.Count > 0;
        var rowsMayVanish = false;
        var foreignKeys = false;
        await using var cmd = new NpgsqlCommand(OnlineSql.TableConstraints, conn);
        cmd.Parameters.AddWithValue("name", qualified);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            var kind = r.GetString(0);
            coalescable &= kind == "u" && !r.IsDBNull(1) && r.GetFieldValue<string[]>(1).All(keyColumns.Contains);
            rowsMayVanish |= kind == "f" && r.GetBoolean(2);
            foreignKeys |= kind == "f";
        }

        return (coalescable, rowsMayVanish, foreignKeys);
    }

    /// <summary>
    /// The row's key as one string (the key columns' values), to find repeated changes to one row; null when
    /// the table's UPDATEs are not coalesced or the row does not carry its whole key.
    /// </summary>
    public string? KeyOf(RowValues row) => Coalescable ? KeyString(row) : null;

    /// <summary>True when the row carries its whole key (every key column, none of them null or left out).</summary>
    public bool CarriesKey(RowValues row)
    {
        var keyed = false;
        for (var i = 0; i < row.Values.Length; i++)
        {
            if (_source.Key[i])
            {
                if (row.Unchanged[i] || row.Values[i] is null)
                {
                    return false;
                }

                keyed = true;
            }
        }

        return keyed;
    }

    /// <summary>
    /// Each key column's value followed by a NUL; null when the table has no key or the row lacks part of it. Made for
    /// every change to a table whose UPDATEs are coalesced: a one-column key, the common one, in one allocation.
    /// </summary>
    private string? KeyString(RowValues row)
    {
        string? first = null;
        System.Text.StringBuilder? key = null;
        for (var i = 0; i < row.Values.Length; i++)
        {
            if (_source.Key[i])
            {
                if (row.Unchanged[i] || row.Values[i] is not { } value)
                {
                    return null;
                }

                if (first is null)
                {
                    first = value;
                }
                else
                {
                    key ??= new System.Text.StringBuilder().Append(first).Append('\u0000');
                    key.Append(value).Append('\u0000');
                }
            }
        }

        return key is not null ? key.ToString() : first is null ? null : string.Concat(first, "\u0000");
    }

    internal static PgRelocateException SchemaChanged(SourceRelation source, string what) =>
        new($"Follow stopped: {what}. What was applied before it is kept; the replication slot and publication are removed. Apply the same schema change to the target, then start again with 'pgrelocate migrate --resume ID' (which copies again), or cancel.", ExitCode.Failed);

    /// <summary>The COPY that loads a run of this table's INSERTs, its columns in the stream's order.</summary>
    public string CopyStatement => $"COPY {Qualified} ({string.Join(", ", _source.Columns.Select(Db.Ident))}) FROM STDIN";

    /// <summary>
    /// One row in COPY's text format: the stream's text values are what each type's input reads (the apply
    /// session uses the source's output styles), escaped; a null is \N.
    /// </summary>
    public static void AppendCopyLine(System.Text.StringBuilder line, RowValues row)
    {
        for (var i = 0; i < row.Values.Length; i++)
        {
            if (i > 0)
            {
                line.Append('\t');
            }

            if (row.Values[i] is not { } value)
            {
                line.Append("\\N");
                continue;
            }

            // The text between the characters COPY needs escaped goes in whole (most values have none of them).
            var rest = value.AsSpan();
            for (var at = rest.IndexOfAny(CopyEscaped); at >= 0; at = rest.IndexOfAny(CopyEscaped))
            {
                line.Append(rest[..at]).Append(rest[at] switch
                {
                    '\\' => "\\\\",
                    '\n' => "\\n",
                    '\r' => "\\r",
                    _ => "\\t",
                });
                rest = rest[(at + 1)..];
            }

            line.Append(rest);
        }

        line.Append('\n');
    }

    /// <summary>The characters a value's text carries escaped in COPY's text format.</summary>
    private static readonly System.Buffers.SearchValues<char> CopyEscaped = System.Buffers.SearchValues.Create("\\\n\r\t");

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

    /// <summary>
    /// One UPDATE of many rows found by key, each with its key unchanged and the same columns left unchanged
    /// (TOASTed values the stream does not carry): the rows go as one text array per column, joined to the
    /// table by key. Null when nothing could be set. Only for rows whose order does not matter (distinct keys of
    /// a <see cref="Coalescable"/> table): a unique index on the set columns could tell the order.
    /// </summary>
    public NpgsqlBatchCommand? UpdateMany(IReadOnlyList<RowValues> rows)
    {
        var first = rows[0];
        var set = Enumerable.Range(0, first.Values.Length).Where(i => !first.Unchanged[i] && !_source.Key[i]).ToList();
        if (set.Count == 0)
        {
            return null;
        }

        var cmd = new NpgsqlBatchCommand();
        var rowsFrom = RowsFrom(cmd, rows, [.. KeyColumns(), .. set]);
        var sets = set.Select(i => $"{Db.Ident(_source.Columns[i])} = source_row.c{i}::{_casts[i]}");
        cmd.CommandText = $"UPDATE {Qualified} AS target_row SET {string.Join(", ", sets)} FROM {rowsFrom} WHERE {KeyJoin()} AND {FirstKeyAmongRows()}";
        return cmd;
    }

    /// <summary>One DELETE of many rows found by key (see <see cref="DeletesTogether"/>).</summary>
    public NpgsqlBatchCommand DeleteMany(IReadOnlyList<RowValues> keys)
    {
        var cmd = new NpgsqlBatchCommand();
        var rowsFrom = RowsFrom(cmd, keys, KeyColumns());
        cmd.CommandText = $"DELETE FROM {Qualified} AS target_row USING {rowsFrom} WHERE {KeyJoin()} AND {FirstKeyAmongRows()}";
        return cmd;
    }

    /// <summary>
    /// The first key column among the rows' values of it (the first array <see cref="RowsFrom"/> adds): said again
    /// beside the join, it lets the target's index find the rows by their keys, whatever the table's statistics say
    /// (see <see cref="TargetWrites"/>' plan settings for these statements).
    /// </summary>
    private string FirstKeyAmongRows()
    {
        var first = KeyColumns()[0];
        return $"target_row.{Db.Ident(_source.Columns[first])} = ANY ($1::text[]::{_casts[first]}[])";
    }

    private List<int> KeyColumns() => Enumerable.Range(0, _source.Columns.Count).Where(i => _source.Key[i]).ToList();

    private string KeyJoin() =>
        string.Join(" AND ", KeyColumns().Select(i => $"target_row.{Db.Ident(_source.Columns[i])} = source_row.c{i}::{_casts[i]}"));

    /// <summary>The rows' values of these columns as a set (unnest of one text array parameter per column), named source_row(c{i}, ...).</summary>
    private static string RowsFrom(NpgsqlBatchCommand cmd, IReadOnlyList<RowValues> rows, IReadOnlyList<int> columns)
    {
        var arrays = new List<string>();
        foreach (var i in columns)
        {
            var values = new string?[rows.Count];
            for (var r = 0; r < rows.Count; r++)
            {
                values[r] = rows[r].Values[i];
            }

            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text, Value = values });
            arrays.Add("$" + cmd.Parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) + "::text[]");
        }

        return $"unnest({string.Join(", ", arrays)}) AS source_row({string.Join(", ", columns.Select(i => "c" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)))})";
    }

    /// <summary>A DELETE of one row, found by its key or, with <paramref name="fullRow"/>, by all its values.</summary>
    public NpgsqlBatchCommand Delete(RowValues old, bool fullRow)
    {
        var cmd = new NpgsqlBatchCommand();
        var where = Where(cmd, old, fullRow);
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
