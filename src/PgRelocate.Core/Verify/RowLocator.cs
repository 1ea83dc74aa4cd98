using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using PgRelocate.Connections;

namespace PgRelocate.Verify;

/// <summary>
/// Finds the rows that differ in a keyed table whose digests differ, the way data-diff does: split the key
/// range into segments, digest each segment on both sides, and descend only into the segments that
/// differ, until a segment is small enough to compare row by row. Each step reads one key range (through
/// the key's index) per side, so a few changed rows in a large table cost a few scans, and memory holds at
/// most one leaf segment's keys and hashes.
/// </summary>
internal sealed class RowLocator(Sessions source, Sessions target, TableInfo table, VerifyOptions options)
{
    /// <summary>Segments with at most this many rows on either side are compared row by row.</summary>
    internal const int LeafRows = 4000;

    /// <summary>How many segments a range is split into at each step.</summary>
    internal const int Fanout = 16;

    private readonly List<RowDifference> _found = [];
    private bool _truncated;

    private IReadOnlyList<string> Key => table.Key!;

    public async Task<(IReadOnlyList<RowDifference> Rows, bool Truncated)> LocateAsync(TableChecker.Digest s, TableChecker.Digest t, CancellationToken cancellationToken)
    {
        await VisitAsync(new KeyRange(null, null), s, t, cancellationToken);
        return (_found, _truncated);
    }

    private async Task VisitAsync(KeyRange range, TableChecker.Digest s, TableChecker.Digest t, CancellationToken cancellationToken)
    {
        if (_found.Count >= options.MaxRows)
        {
            _truncated = true;
            return;
        }

        var rows = Math.Max(s.Rows, t.Rows);
        if (rows <= LeafRows)
        {
            await CompareRowsAsync(range, cancellationToken);
            return;
        }

        // Boundaries come from the side with more rows in the range, so that rows only one side has are
        // spread over segments too.
        var bounds = await BoundariesAsync(s.Rows >= t.Rows ? source : target, range, rows, cancellationToken);
        var segments = await Task.WhenAll(
            SegmentDigestsAsync(source, range, bounds, cancellationToken),
            SegmentDigestsAsync(target, range, bounds, cancellationToken));
        for (var i = 0; i <= bounds.Count; i++)
        {
            var ss = segments[0].GetValueOrDefault(i, new TableChecker.Digest(0, "0"));
            var ts = segments[1].GetValueOrDefault(i, new TableChecker.Digest(0, "0"));
            if (ss == ts)
            {
                continue;
            }

            var segment = new KeyRange(i == 0 ? range.Low : bounds[i - 1], i == bounds.Count ? range.High : bounds[i]);
            await VisitAsync(segment, ss, ts, cancellationToken);
            if (_found.Count >= options.MaxRows)
            {
                _truncated = true;
                return;
            }
        }
    }

    /// <summary>Every step-th key of the range in key order: at most <see cref="Fanout"/> boundaries.</summary>
    private async Task<List<string[]>> BoundariesAsync(Sessions side, KeyRange range, long rows, CancellationToken cancellationToken)
    {
        var step = (rows + Fanout - 1) / Fanout;
        var parameters = new List<NpgsqlParameter>();
        var where = Where(range, parameters);
        var inner = string.Join(", ", Key.Select((c, i) => $"t.{Db.Ident(c)} AS k{i}"));
        var order = string.Join(", ", Key.Select(c => "t." + Db.Ident(c)));
        var outer = string.Join(", ", Key.Select((_, i) => $"s.k{i}::text"));
        var sql = $"SELECT {outer} FROM (SELECT {inner}, row_number() OVER (ORDER BY {order}) AS rn FROM ONLY {table.Sql} t WHERE {where}) s " +
                  $"WHERE s.rn % {step.ToString(CultureInfo.InvariantCulture)} = 0 ORDER BY s.rn";
        var bounds = new List<string[]>();
        await QueryAsync(side, sql, parameters, reader =>
        {
            bounds.Add(ReadKey(reader, 0));
        }, cancellationToken);
        return bounds;
    }

    /// <summary>Count and digest of each segment of the range, by segment number (empty segments are absent).</summary>
    private async Task<Dictionary<int, TableChecker.Digest>> SegmentDigestsAsync(Sessions side, KeyRange range, List<string[]> bounds, CancellationToken cancellationToken)
    {
        var parameters = new List<NpgsqlParameter>();
        var where = Where(range, parameters);
        var segment = new StringBuilder("CASE");
        for (var i = 0; i < bounds.Count; i++)
        {
            segment.Append(CultureInfo.InvariantCulture, $" WHEN {table.KeyTuple} < {Tuple(bounds[i], parameters)} THEN {i}");
        }

        segment.Append(CultureInfo.InvariantCulture, $" ELSE {bounds.Count} END");
        var sql = $"SELECT {segment}, count(*), coalesce(sum({table.RowHash}), 0)::text FROM ONLY {table.Sql} t WHERE {where} GROUP BY 1";
        var digests = new Dictionary<int, TableChecker.Digest>();
        await QueryAsync(side, sql, parameters, reader =>
        {
            digests[reader.GetInt32(0)] = new TableChecker.Digest(reader.GetInt64(1), reader.GetString(2));
        }, cancellationToken);
        return digests;
    }

    /// <summary>Compares the keys and row hashes of a small range, then reads the changed rows' columns.</summary>
    private async Task CompareRowsAsync(KeyRange range, CancellationToken cancellationToken)
    {
        var rows = await Task.WhenAll(
            KeyHashesAsync(source, range, cancellationToken),
            KeyHashesAsync(target, range, cancellationToken));
        var (s, t) = (rows[0], rows[1]);
        var targetByKey = t.ToDictionary(r => Join(r.Key), r => r.Hash, StringComparer.Ordinal);
        var sourceKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, hash) in s)
        {
            var joined = Join(key);
            sourceKeys.Add(joined);
            if (!targetByKey.TryGetValue(joined, out var other))
            {
                Add(new RowDifference(Named(key), DifferenceKind.MissingOnTarget));
            }
            else if (other != hash && _found.Count < options.MaxRows)
            {
                Add(new RowDifference(Named(key), DifferenceKind.Different, await ChangedColumnsAsync(key, cancellationToken)));
            }
        }

        foreach (var (key, _) in t.Where(r => !sourceKeys.Contains(Join(r.Key))))
        {
            Add(new RowDifference(Named(key), DifferenceKind.ExtraOnTarget));
        }
    }

    private void Add(RowDifference difference)
    {
        if (_found.Count < options.MaxRows)
        {
            _found.Add(difference);
        }
        else
        {
            _truncated = true;
        }
    }

    private async Task<List<(string[] Key, long Hash)>> KeyHashesAsync(Sessions side, KeyRange range, CancellationToken cancellationToken)
    {
        var parameters = new List<NpgsqlParameter>();
        var where = Where(range, parameters);
        var keys = string.Join(", ", Key.Select(c => $"t.{Db.Ident(c)}::text"));
        var sql = $"SELECT {keys}, {table.RowHash} FROM ONLY {table.Sql} t WHERE {where} ORDER BY {table.KeyTuple}";
        var rows = new List<(string[], long)>();
        await QueryAsync(side, sql, parameters, reader => rows.Add((ReadKey(reader, 0), reader.GetInt64(Key.Count))), cancellationToken);
        return rows;
    }

    /// <summary>The columns whose text differs between the two sides' versions of one row.</summary>
    private async Task<List<ColumnDifference>> ChangedColumnsAsync(string[] key, CancellationToken cancellationToken)
    {
        var values = await Task.WhenAll(RowValuesAsync(source, key, cancellationToken), RowValuesAsync(target, key, cancellationToken));
        var changed = new List<ColumnDifference>();
        for (var i = 0; i < table.Columns.Count; i++)
        {
            if (!string.Equals(values[0][i], values[1][i], StringComparison.Ordinal))
            {
                changed.Add(new ColumnDifference(table.Columns[i], Truncate(values[0][i]), Truncate(values[1][i])));
            }
        }

        return changed;
    }

    private async Task<string?[]> RowValuesAsync(Sessions side, string[] key, CancellationToken cancellationToken)
    {
        var parameters = new List<NpgsqlParameter>();
        var columns = string.Join(", ", table.Columns.Select(c => $"t.{Db.Ident(c)}::text"));
        var sql = $"SELECT {columns} FROM ONLY {table.Sql} t WHERE {table.KeyTuple} = {Tuple(key, parameters)}";
        var values = new string?[table.Columns.Count];
        await QueryAsync(side, sql, parameters, reader =>
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = reader.IsDBNull(i) ? null : reader.GetString(i);
            }
        }, cancellationToken);
        return values;
    }

    private string? Truncate(string? value) =>
        value is not null && value.Length > options.MaxValueLength
            ? string.Create(CultureInfo.InvariantCulture, $"{value[..options.MaxValueLength]}... ({value.Length} characters)")
            : value;

    private Dictionary<string, string?> Named(string[] key)
    {
        var named = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 0; i < Key.Count; i++)
        {
            named[Key[i]] = Truncate(key[i]);
        }

        return named;
    }

    private string Where(KeyRange range, List<NpgsqlParameter> parameters)
    {
        var parts = new List<string>();
        if (range.Low is not null)
        {
            parts.Add($"{table.KeyTuple} >= {Tuple(range.Low, parameters)}");
        }

        if (range.High is not null)
        {
            parts.Add($"{table.KeyTuple} < {Tuple(range.High, parameters)}");
        }

        return parts.Count == 0 ? "true" : string.Join(" AND ", parts);
    }

    /// <summary>A key value as SQL: each part passed as text and cast to its column's type on the server.</summary>
    private string Tuple(string[] key, List<NpgsqlParameter> parameters)
    {
        var items = new List<string>();
        for (var i = 0; i < Key.Count; i++)
        {
            parameters.Add(new NpgsqlParameter { Value = key[i], NpgsqlDbType = NpgsqlDbType.Text });
            items.Add($"${parameters.Count.ToString(CultureInfo.InvariantCulture)}::{table.TypeOf(Key[i])}");
        }

        return "(" + string.Join(", ", items) + ")";
    }

    private string[] ReadKey(NpgsqlDataReader reader, int offset)
    {
        var key = new string[Key.Count];
        for (var i = 0; i < key.Length; i++)
        {
            key[i] = reader.GetString(offset + i);
        }

        return key;
    }

    // Key parts never contain NUL: PostgreSQL text cannot hold it.
    private static string Join(string[] key) => string.Join('\0', key);

    private async Task QueryAsync(Sessions side, string sql, List<NpgsqlParameter> parameters, Action<NpgsqlDataReader> onRow, CancellationToken cancellationToken)
    {
        await using var lease = await side.RentAsync(cancellationToken);
        try
        {
            await using var cmd = new NpgsqlCommand(sql, lease.Connection);
            cmd.Parameters.AddRange(parameters.ToArray());
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                onRow(reader);
            }
        }
        catch (PostgresException e)
        {
            throw TableChecker.Failed(side, table, e);
        }
    }

    /// <summary>Keys from <see cref="Low"/> (inclusive) to <see cref="High"/> (exclusive); null is unbounded.</summary>
    private sealed record KeyRange(string[]? Low, string[]? High);
}
