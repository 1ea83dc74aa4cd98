using System.Text.RegularExpressions;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Restore;

/// <summary>
/// What the restore and the copy know about building an index, read from pg_dump's statement.
/// GIN, GiST and SP-GiST builds take longest, so they start first. GIN builds are faster with less
/// maintenance_work_mem than B-tree sorts (see <see cref="Copy.CopyOptions.MaintenanceWorkMem"/>): the build's
/// in-memory accumulator loses to the CPU cache as it grows. Measured on the bench (PostgreSQL 15): over jsonb (many distinct
/// keys) 4MB built the index about 12% faster than 64MB, and 64MB about 10% faster than 1GB; over trigrams
/// (few keys, long posting lists) 64MB was best.
/// </summary>
internal static partial class IndexBuilds
{
    public const string JsonbGinMemory = "4MB";

    public const string GinMemory = "64MB";

    public static bool IsSlow(string sql) => SlowMethod().IsMatch(sql);

    public static bool IsGin(string sql) => sql.Contains(" USING gin ", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Whether a statement of pg_dump's builds a GIN index over one jsonb column with a jsonb operator class:
    /// named in the statement, or the column's type's default (the column's type asked of the target, where
    /// the table already is). Expressions and several columns are not looked into: they keep the default.
    /// </summary>
    public static async Task<bool> IsOverJsonbAsync(NpgsqlConnection target, string sql, CancellationToken cancellationToken)
    {
        if (Parse(sql) is not { } index)
        {
            return false;
        }

        if (index.OperatorClass is { } opclass)
        {
            return opclass is "jsonb_ops" or "jsonb_path_ops";
        }

        await using var cmd = new NpgsqlCommand(CatalogSql.Load("Restore/JsonbColumn.sql"), target);
        cmd.Parameters.AddWithValue("table", index.Table);
        cmd.Parameters.AddWithValue("column", index.Column);
        return await cmd.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>The table, the column and the operator class named (if any) of a one-column GIN index statement.</summary>
    internal static (string Table, string Column, string? OperatorClass)? Parse(string sql)
    {
        var m = OneColumnGin().Match(sql);
        if (!m.Success)
        {
            return null;
        }

        var column = m.Groups[2].Value;
        if (column.StartsWith('"'))
        {
            column = column[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal);
        }

        return (m.Groups[1].Value, column, m.Groups[3].Success ? m.Groups[3].Value : null);
    }

    [GeneratedRegex(@" USING (?:gin|gist|spgist) ", RegexOptions.IgnoreCase)]
    private static partial Regex SlowMethod();

    [GeneratedRegex(@"^CREATE INDEX \S+ ON (?:ONLY )?((?:""(?:[^""]|"""")+""|[^\s""]+)\.(?:""(?:[^""]|"""")+""|[^\s""(]+)) USING gin \((""(?:[^""]|"""")+""|[a-z_][a-z0-9_$]*)(?: (?:pg_catalog\.)?(\w+))?\);?\s*$")]
    private static partial Regex OneColumnGin();
}
