using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Verify;

/// <summary>
/// A table present on both sides, as compared: the columns both sides have (in the source's order), their
/// types, and the key that locates differing rows (null when the table has none).
/// </summary>
internal sealed record TableInfo(string Schema, string Name, IReadOnlyList<string> Columns, IReadOnlyList<string> Types, IReadOnlyList<string>? Key, long Size)
{
    public string Display => $"{Schema}.{Name}";

    public string Sql => Db.Ident(Schema) + "." + Db.Ident(Name);

    public string TypeOf(string column) => Types[Columns.ToList().IndexOf(column)];

    /// <summary>
    /// The text a row is hashed from: the row literal of its columns. A row literal quotes an empty string
    /// (<c>""</c>) and leaves NULL empty, so NULL and '' differ; the session settings make it the same text
    /// on both servers. Built from named columns so that a different column order or dropped columns on
    /// one side do not matter.
    /// </summary>
    public string RowText => "ROW(" + string.Join(", ", Columns.Select(c => "t." + Db.Ident(c))) + ")::text";

    /// <summary>
    /// A 64-bit hash of the row. hashtextextended is built in (PostgreSQL 11+), fast, and unaffected by
    /// FIPS mode, unlike md5.
    /// </summary>
    public string RowHash => $"hashtextextended({RowText}, 0)";

    public string KeyTuple => "(" + string.Join(", ", Key!.Select(c => "t." + Db.Ident(c))) + ")";

    /// <summary>Reads the tables of one side, keyed by schema and name.</summary>
    public static async Task<Dictionary<(string, string), TableInfo>> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        var tables = new Dictionary<(string, string), TableInfo>();
        await using var cmd = new NpgsqlCommand(Sql_.Value, conn);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var schema = reader.GetString(0);
            var name = reader.GetString(1);
            tables[(schema, name)] = new TableInfo(
                schema,
                name,
                reader.GetFieldValue<string[]>(3),
                reader.GetFieldValue<string[]>(4),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<string[]>(5),
                reader.GetInt64(6));
        }

        return tables;
    }

    /// <summary>The table as both sides have it: common columns only, a key only when both sides have the same one.</summary>
    public static TableInfo Common(TableInfo source, TableInfo target)
    {
        var targetColumns = target.Columns.ToHashSet(StringComparer.Ordinal);
        var columns = new List<string>();
        var types = new List<string>();
        for (var i = 0; i < source.Columns.Count; i++)
        {
            if (targetColumns.Contains(source.Columns[i]))
            {
                columns.Add(source.Columns[i]);
                types.Add(source.Types[i]);
            }
        }

        var key = source.Key is not null && target.Key is not null && source.Key.SequenceEqual(target.Key, StringComparer.Ordinal) ? source.Key : null;
        return source with { Columns = columns, Types = types, Key = key };
    }

    private static readonly Lazy<string> Sql_ = new(() => SqlResources.Load("Tables.sql"));
}
