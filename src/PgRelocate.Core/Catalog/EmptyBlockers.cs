using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>
/// An object emptying a database would drop or leave that the login role may not drop: its kind and
/// qualified name as the catalogs give them, its owner, and whether it would be left (not reached by the
/// emptying) or dropped with the login role's objects (it depends on them).
/// </summary>
public sealed record EmptyBlocker(string Kind, string Name, string Owner, bool LeftBehind)
{
    public override string ToString() => $"{Kind} {Name} (owner {Owner})";
}

/// <summary>
/// What stands in the way of emptying a database (EmptyBlockers.sql), found before anything is dropped: every
/// object the emptying's DROP ... CASCADE would reach through pg_depend that the login role may not drop
/// itself (another role's view on its table, trigger calling its function, foreign key to its table, function
/// taking its type, ...; an extension it does not drop), and every user object it would leave.
/// </summary>
public static class EmptyBlockers
{
    public static Task<List<EmptyBlocker>> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ListAsync(conn, CatalogSql.Load("EmptyBlockers.sql"), r => new EmptyBlocker(r.GetString(0), r.GetString(1), r.GetString(2), r.GetBoolean(3)), cancellationToken);
}
