using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Verify;

/// <summary>
/// A table present on both sides, as compared: the columns both sides have (in the source's order), their
/// types, and the key that locates differing rows (null when the table has none).
/// </summary>
internal sealed record TableInfo(
    string Schema, string Name, IReadOnlyList<string> Columns, IReadOnlyList<string> Types, IReadOnlyList<bool> Native, IReadOnlyList<string>? Key, long Size)
{
    /// <summary>Both servers have hash_record_extended (PostgreSQL 14+): hash values, not their text, where that is exact.</summary>
    public bool ValueHash { get; init; }

    public string Display => $"{Schema}.{Name}";

    public string Sql => Db.Qualified(Schema, Name);

    public string TypeOf(string column) => Types[Columns.ToList().IndexOf(column)];

    /// <summary>
    /// The text a row is hashed from: the row literal of its columns. A row literal quotes an empty string
    /// (<c>""</c>) and leaves NULL empty, so NULL and '' differ; the session settings make it the same text
    /// on both servers. Built from named columns so that a different column order or dropped columns on
    /// one side do not matter.
    /// </summary>
    public string RowText => "ROW(" + string.Join(", ", Columns.Select(c => "t." + Db.Ident(c))) + ")::text";

    /// <summary>
    /// A 64-bit hash of the row, built from hash functions that are part of the server (no md5, so FIPS mode
    /// does not matter) and stable across versions (hash partitioning depends on them).
    /// With <see cref="ValueHash"/>: hash_record_extended over the row, where the columns whose type hashes
    /// exactly keep their value (no text rendering: about twice as fast) and the others are hashed as their
    /// text; it combines columns linearly, so hashint8extended mixes the result, or a sum over rows would
    /// miss values swapped between rows. A NULL column hashes as 0 and '' does not, so they differ.
    /// Without: hashtextextended of the row literal (PostgreSQL 11+).
    /// </summary>
    public string RowHash => ValueHash
        ? "hashint8extended(hash_record_extended(ROW(" +
          string.Join(", ", Columns.Select((c, i) => Native[i] ? "t." + Db.Ident(c) : $"t.{Db.Ident(c)}::text COLLATE \"C\"")) + "), 0), 0)"
        : $"hashtextextended({RowText}, 0)";

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
                reader.GetFieldValue<bool[]>(5),
                reader.IsDBNull(6) ? null : reader.GetFieldValue<string[]>(6),
                reader.GetInt64(7));
        }

        return tables;
    }

    /// <summary>
    /// The table as both sides have it: common columns only, hashed by value only when both sides agree on
    /// the type, a key only when both sides have the same one.
    /// </summary>
    public static TableInfo Common(TableInfo source, TableInfo target, bool valueHash)
    {
        var columns = new List<string>();
        var types = new List<string>();
        var native = new List<bool>();
        for (var i = 0; i < source.Columns.Count; i++)
        {
            var j = target.Columns.ToList().IndexOf(source.Columns[i]);
            if (j >= 0)
            {
                columns.Add(source.Columns[i]);
                types.Add(source.Types[i]);
                native.Add(source.Native[i] && target.Native[j] && string.Equals(source.Types[i], target.Types[j], StringComparison.Ordinal));
            }
        }

        var key = source.Key is not null && target.Key is not null && source.Key.SequenceEqual(target.Key, StringComparer.Ordinal) ? source.Key : null;
        return source with { Columns = columns, Types = types, Native = native, Key = key, ValueHash = valueHash };
    }

    private static readonly Lazy<string> Sql_ = new(() => CatalogSql.Load("Verify/Tables.sql"));
}
