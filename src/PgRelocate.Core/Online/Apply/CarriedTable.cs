using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Online.Apply;

/// <summary>
/// A source table as the follow creates it on the target: its description as the stream sends its rows, its
/// quoted name, the statements that create it (run only when the target lacks it) and the tables it must share
/// a lane with (its parent, the tables its foreign keys reference); when the target holds it under an earlier name
/// (<c>RenamedFrom</c>), the statements rename it there and nothing is copied.
/// </summary>
internal sealed record CarriedTable(SourceRelation Relation, string Qualified, IReadOnlyList<string> Statements, IReadOnlyList<string> Ties, bool HasRows, string? RenamedFrom = null)
{
    /// <summary>The table's definition, description and ties, read from the catalog of <paramref name="session"/> (its search_path empty: every name qualified): the source's for the follow, the target's for the way back.</summary>
    public static async Task<CarriedTable> DescribeAsync(NpgsqlConnection session, uint oid, CancellationToken cancellationToken)
    {
        var (schema, name, rows) = await Db.ListAsync(
            session,
            $"SELECT n.nspname::text, c.relname::text, c.relkind = 'r' FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = {oid}",
            r => (r.GetString(0), r.GetString(1), r.GetBoolean(2)),
            cancellationToken) is [var one] ? one : throw SchemaCarry.CannotCarry(oid.ToString(System.Globalization.CultureInfo.InvariantCulture), "it is no longer on the source");
        // Its schema first: one made on the source while following is not on the target yet.
        List<string> statements = [SchemaStatement(schema), .. await ByOidAsync(session, OnlineSql.CarriedTable, oid, r => r.GetString(2), cancellationToken)];
        var columns = await ByOidAsync(session, OnlineSql.CarriedRelation, oid, r => (Name: r.GetString(0), Type: r.GetFieldValue<uint>(1), Modifier: r.GetInt32(2), Key: r.GetBoolean(3)), cancellationToken);
        var ties = await ByOidAsync(session, OnlineSql.CarriedTies, oid, r => Db.Qualified(r.GetString(0), r.GetString(1)), cancellationToken);
        var relation = new SourceRelation(oid, schema, name, [.. columns.Select(c => c.Name)], [.. columns.Select(c => c.Key)], [.. columns.Select(c => c.Type)], [.. columns.Select(c => c.Modifier)]);
        return new CarriedTable(relation, Db.Qualified(schema, name), statements, ties, rows);
    }

    private static async Task<List<T>> ByOidAsync<T>(NpgsqlConnection session, string sql, uint oid, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, session);
        cmd.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, oid);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await r.ReadAsync(cancellationToken))
        {
            rows.Add(map(r));
        }

        return rows;
    }

    /// <summary>The statement that makes <paramref name="schema"/> on the target when it lacks it (<c>CarriedSchema.sql</c>), before a table is created or moved there.</summary>
    internal static string SchemaStatement(string schema) =>
        CatalogSql.Load("Online/CarriedSchema.sql", new Dictionary<string, string> { ["schema"] = Db.Literal(schema), ["name"] = Db.Ident(schema) });
}
