using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Verify;

/// <summary>A large object's size and a digest of its contents: both null when this login may not read it, the digest null before PostgreSQL 11.</summary>
internal sealed record LargeObjectFacts(long? Size, string? Digest);

/// <summary>
/// Large objects by OID (pg_dump keeps OIDs, so OIDs name them on both sides), with their sizes and a digest
/// of their contents computed by the server: only digests cross the network.
/// </summary>
internal static class LargeObjects
{
    /// <summary>The server hashes at most this much of one object per call (lo_get holds it in memory).</summary>
    internal const long Piece = 64L * 1024 * 1024;

    /// <summary>Reads every large object's facts, in the caller's transaction (a refusal to read one rolls back to a savepoint).</summary>
    public static async Task<Dictionary<long, LargeObjectFacts>> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken, long piece = Piece)
    {
        var sizes = new Dictionary<long, long?>();
        await Db.ExecuteAsync(conn, "SAVEPOINT large_object_sizes", cancellationToken);

        try
        {
            // Seeking to the end gives the size without reading the data; descriptors live until the
            // transaction ends. 262144 is INV_READ.
            await ReadInto(conn, "SELECT oid::bigint, lo_lseek64(lo_open(oid, 262144), 0, 2) FROM pg_largeobject_metadata", sizes, cancellationToken);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            sizes.Clear();
            await Db.ExecuteAsync(conn, "ROLLBACK TO SAVEPOINT large_object_sizes", cancellationToken);

            await ReadInto(conn, "SELECT oid::bigint, NULL::bigint FROM pg_largeobject_metadata", sizes, cancellationToken);
        }

        var digests = await DigestsAsync(conn, sizes, piece, cancellationToken);
        return sizes.ToDictionary(s => s.Key, s => new LargeObjectFacts(s.Value, digests.GetValueOrDefault(s.Key)));
    }

    public static void Compare(Dictionary<long, LargeObjectFacts> source, Dictionary<long, LargeObjectFacts> target, List<SchemaDifference> differences)
    {
        foreach (var (oid, facts) in source)
        {
            var name = oid.ToString(CultureInfo.InvariantCulture);
            if (!target.TryGetValue(oid, out var other))
            {
                differences.Add(new SchemaDifference("large object", name, DifferenceKind.MissingOnTarget, Describe(facts)));
            }
            else if ((facts.Size is not null && other.Size is not null && facts.Size != other.Size)
                || (facts.Digest is not null && other.Digest is not null && facts.Digest != other.Digest))
            {
                differences.Add(new SchemaDifference("large object", name, DifferenceKind.Different, Describe(facts), Describe(other)));
            }
        }

        foreach (var (oid, facts) in target)
        {
            if (!source.ContainsKey(oid))
            {
                differences.Add(new SchemaDifference("large object", oid.ToString(CultureInfo.InvariantCulture), DifferenceKind.ExtraOnTarget, null, Describe(facts)));
            }
        }
    }

    private static string? Describe(LargeObjectFacts facts) => facts.Size is { } s
        ? string.Create(CultureInfo.InvariantCulture, $"{s} bytes") + (facts.Digest is { } d ? $", contents {d[..12]}" : "")
        : null;

    /// <summary>
    /// The SHA-256 of each readable object's contents (not md5, which a server in FIPS mode refuses): for
    /// objects up to one piece, one statement for all of them; a larger object is hashed piece by piece and
    /// its digest is the SHA-256 of its pieces' digests. None before PostgreSQL 11, which has no sha256():
    /// the objects are then compared by size.
    /// </summary>
    private static async Task<Dictionary<long, string>> DigestsAsync(NpgsqlConnection conn, Dictionary<long, long?> sizes, long piece, CancellationToken cancellationToken)
    {
        var digests = new Dictionary<long, string>();
        if (conn.PostgreSqlVersion.Major < 11)
        {
            return digests;
        }

        var small = sizes.Where(s => s.Value <= piece).Select(s => s.Key).ToArray();
        if (small.Length > 0)
        {
            await using var cmd = new NpgsqlCommand("SELECT oid::bigint, encode(sha256(lo_get(oid)), 'hex') FROM pg_largeobject_metadata WHERE oid = ANY (@oids::bigint[]::oid[])", conn);
            cmd.Parameters.AddWithValue("oids", small);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                digests[reader.GetInt64(0)] = reader.GetString(1);
            }
        }

        foreach (var (oid, size) in sizes.Where(s => s.Value > piece))
        {
            var pieces = new StringBuilder();
            for (long offset = 0; offset < size!.Value; offset += piece)
            {
                await using var cmd = new NpgsqlCommand("SELECT encode(sha256(lo_get(@oid::bigint::oid, @offset, @length)), 'hex')", conn);
                cmd.Parameters.AddWithValue("oid", oid);
                cmd.Parameters.AddWithValue("offset", offset);
                cmd.Parameters.AddWithValue("length", (int)Math.Min(piece, size.Value - offset));
                pieces.Append(await cmd.ExecuteScalarAsync(cancellationToken)).Append('\n');
            }

            digests[oid] = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(pieces.ToString())));
        }

        return digests;
    }

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
