using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Copy;

/// <summary>
/// Copies large objects with their oids and comments, read in the snapshot and written in pieces, so that
/// memory stays bounded whatever their size. They belong to the target's login role and carry no grants, as
/// everything restored does (roles are not migrated).
/// </summary>
internal static class LargeObjectCopier
{
    private const int Piece = 1 << 20;

    private static async Task CopyCommentsAsync(NpgsqlConnection reader, NpgsqlConnection writer, IReadOnlyList<uint> oids, CancellationToken cancellationToken)
    {
        var comments = new List<(uint Oid, string Text)>();
        await using (var read = new NpgsqlCommand(
            "SELECT objoid, description FROM pg_catalog.pg_description WHERE classoid = 'pg_catalog.pg_largeobject'::pg_catalog.regclass AND objoid = ANY(@oids)", reader))
        {
            read.Parameters.AddWithValue("oids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid, oids.ToArray());
            await using var r = await read.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                comments.Add((r.GetFieldValue<uint>(0), r.GetString(1)));
            }
        }

        foreach (var (oid, text) in comments)
        {
            await Db.ExecuteAsync(writer, $"COMMENT ON LARGE OBJECT {SourceSnapshot.Number(oid)} IS {Db.Literal(text)}", cancellationToken);
        }
    }

    /// <returns>The bytes copied.</returns>
    public static async Task<long> CopyAsync(NpgsqlConnection reader, NpgsqlConnection writer, IReadOnlyList<uint> oids, CancellationToken cancellationToken)
    {
        long bytes = 0;
        await Db.ExecuteAsync(writer, "BEGIN", cancellationToken);
        foreach (var oid in oids)
        {
            var id = SourceSnapshot.Number(oid);
            for (long offset = 0; ; offset += Piece)
            {
                byte[] data;
                await using (var read = new NpgsqlCommand($"SELECT pg_catalog.lo_get({id}, {SourceSnapshot.Number(offset)}, {Piece})", reader))
                {
                    data = (byte[])(await read.ExecuteScalarAsync(cancellationToken))!;
                }

                var sql = offset == 0
                    ? $"SELECT pg_catalog.lo_from_bytea({id}, @data)"
                    : $"SELECT pg_catalog.lo_put({id}, {SourceSnapshot.Number(offset)}, @data)";
                if (offset == 0 || data.Length > 0)
                {
                    await using var write = new NpgsqlCommand(sql, writer);
                    write.Parameters.AddWithValue("data", data);
                    await write.ExecuteNonQueryAsync(cancellationToken);
                }

                bytes += data.Length;
                if (data.Length < Piece)
                {
                    break;
                }
            }
        }

        await CopyCommentsAsync(reader, writer, oids, cancellationToken);
        await Db.ExecuteAsync(writer, "COMMIT", cancellationToken);
        return bytes;
    }
}
