using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>
/// An object emptying a database would drop or leave that the login role may not drop: its kind and
/// qualified name as the catalogs give them, its owner, and whether it would be left (not reached by the
/// emptying) or dropped with the login role's objects (it depends on them).
/// </summary>
internal sealed record EmptyBlocker(string Kind, string Name, string Owner, bool LeftBehind)
{
    public override string ToString() => $"{Kind} {Name} (owner {Owner})";
}

/// <summary>
/// What stands in the way of emptying a database (EmptyBlockers.sql), found before anything is dropped: every
/// object the emptying's DROP ... CASCADE would reach through pg_depend that the login role may not drop
/// itself (another role's view on its table, trigger calling its function, foreign key to its table, function
/// taking its type, ...; an extension it does not drop), and every user object it would leave.
/// </summary>
internal static class EmptyBlockers
{
    /// <summary>The look at the whole emptying: its plan, and the user objects it would leave.</summary>
    private static readonly Lazy<string> Whole = new(() => CatalogSql.Load("EmptyBlockers.sql", new Dictionary<string, string>
    {
        ["plan_rows"] = CatalogSql.Load("EmptyPlan.sql"),
        ["left_rows"] = CatalogSql.Load("UserObjects.sql"),
    }));

    /// <summary>The look at one batch's statements: neither the plan nor the user objects, which it does not read.</summary>
    private static readonly Lazy<string> Batch = new(() => CatalogSql.Load("EmptyBlockers.sql", new Dictionary<string, string>
    {
        ["plan_rows"] = "SELECT NULL::oid AS classid, NULL::oid AS objid WHERE false",
        ["left_rows"] = "SELECT NULL::text AS kind, NULL::text AS name, NULL::oid AS classid, NULL::oid AS objid, NULL::oid AS owner WHERE false",
    }));

    /// <summary>What the whole emptying would drop or leave that the login role may not drop.</summary>
    public static Task<List<EmptyBlocker>> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        ReadAsync(conn, null, [], cancellationToken);

    /// <summary>
    /// What the statements that drop <paramref name="roots"/> (classid and objid, as pg_depend names them) would
    /// drop that the login role may not drop, <paramref name="extensions"/> being the extensions the emptying
    /// drops; all of the emptying, and what it would leave, when null.
    /// </summary>
    public static async Task<List<EmptyBlocker>> ReadAsync(NpgsqlConnection conn, IReadOnlyList<(uint ClassId, uint ObjectId)>? roots, IReadOnlyList<uint> extensions, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(roots is null ? Whole.Value : Batch.Value, conn);
        cmd.Parameters.Add(new NpgsqlParameter("classids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bigint)
        {
            Value = roots is null ? DBNull.Value : roots.Select(r => (long)r.ClassId).ToArray(),
        });
        cmd.Parameters.Add(new NpgsqlParameter("objids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bigint)
        {
            Value = roots is null ? DBNull.Value : roots.Select(r => (long)r.ObjectId).ToArray(),
        });
        cmd.Parameters.Add(new NpgsqlParameter("extensions", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bigint)
        {
            Value = extensions.Select(e => (long)e).ToArray(),
        });
        var rows = new List<EmptyBlocker>();
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            rows.Add(new EmptyBlocker(r.GetString(0), r.GetString(1), r.GetString(2), r.GetBoolean(3)));
        }

        return rows;
    }
}
