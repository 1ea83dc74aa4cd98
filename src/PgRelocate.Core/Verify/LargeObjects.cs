using System.Globalization;
using Npgsql;

namespace PgRelocate.Verify;

/// <summary>Large objects by OID with their sizes (pg_dump keeps OIDs, so OIDs name them on both sides).</summary>
internal static class LargeObjects
{
    /// <summary>OID to size in bytes; the size is null when this login may not open the object.</summary>
    public static async Task<Dictionary<long, long?>> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var result = new Dictionary<long, long?>();
        try
        {
            // Seeking to the end gives the size without reading the data; descriptors live until the
            // statement's implicit transaction ends. 262144 is INV_READ.
            await ReadInto(conn, "SELECT oid::bigint, lo_lseek64(lo_open(oid, 262144), 0, 2) FROM pg_largeobject_metadata", result, cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == "42501")
        {
            result.Clear();
            await ReadInto(conn, "SELECT oid::bigint, NULL::bigint FROM pg_largeobject_metadata", result, cancellationToken);
        }

        return result;
    }

    public static void Compare(Dictionary<long, long?> source, Dictionary<long, long?> target, List<SchemaDifference> differences)
    {
        foreach (var (oid, size) in source)
        {
            var name = oid.ToString(CultureInfo.InvariantCulture);
            if (!target.TryGetValue(oid, out var other))
            {
                differences.Add(new SchemaDifference("large object", name, DifferenceKind.MissingOnTarget, Describe(size)));
            }
            else if (size is not null && other is not null && size != other)
            {
                differences.Add(new SchemaDifference("large object", name, DifferenceKind.Different, Describe(size), Describe(other)));
            }
        }

        foreach (var (oid, size) in target)
        {
            if (!source.ContainsKey(oid))
            {
                differences.Add(new SchemaDifference("large object", oid.ToString(CultureInfo.InvariantCulture), DifferenceKind.ExtraOnTarget, null, Describe(size)));
            }
        }
    }

    private static string? Describe(long? size) => size is { } s ? string.Create(CultureInfo.InvariantCulture, $"{s} bytes") : null;

    private static async Task ReadInto(NpgsqlConnection conn, string sql, Dictionary<long, long?> result, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result[reader.GetInt64(0)] = reader.IsDBNull(1) ? null : reader.GetInt64(1);
        }
    }
}
