using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Copy;

/// <summary>
/// Copies large objects with their oids, read in the snapshot and written in pieces, so that memory stays
/// bounded whatever their size. They belong to the target's login role, as everything restored does.
/// </summary>
internal static class LargeObjectCopier
{
    private const int Piece = 1 << 20;

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

        await Db.ExecuteAsync(writer, "COMMIT", cancellationToken);
        return bytes;
    }
}
