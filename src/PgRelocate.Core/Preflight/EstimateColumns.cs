using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight;

/// <summary>The columns of a source table the estimate can write to a scratch table of the target: their names and built-in types.</summary>
internal static class EstimateColumns
{
    public static async Task<List<(string Name, string Type)>> ReadAsync(NpgsqlConnection source, EstimateTable table, CancellationToken cancellationToken)
    {
        var sql = CatalogSql.Load("Preflight/EstimateColumns.sql").Replace("@table", Db.Literal(Db.Qualified(table.Schema, table.Name)), StringComparison.Ordinal);
        return await Db.ListAsync(source, sql, r => (r.GetString(0), r.GetString(1)), cancellationToken);
    }
}
