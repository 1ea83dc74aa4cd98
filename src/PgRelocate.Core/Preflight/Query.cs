using Npgsql;

namespace PgRelocate.Preflight;

/// <summary>Runs a read-only query and maps its rows; keeps the checks free of reader plumbing.</summary>
internal static class Query
{
    public static async Task<List<T>> ListAsync<T>(NpgsqlConnection conn, string sql, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    public static async Task<T> SingleAsync<T>(NpgsqlConnection conn, string sql, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken) =>
        (await ListAsync(conn, sql, map, cancellationToken)).Single();

    public static string? NullableString(this NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>A short list for a "found" sentence: the first few names, then how many more.</summary>
    public static string Names(IReadOnlyCollection<string> names, int max = 5) =>
        names.Count <= max ? string.Join(", ", names) : string.Join(", ", names.Take(max)) + $" and {names.Count - max} more";
}
