using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>A table or sequence pg_dump would have to read.</summary>
public sealed record UnreadableRelation(string Schema, string Name, string Kind)
{
    public override string ToString() => $"{Kind} {Schema}.{Name}";

    /// <summary>The statement that lets <paramref name="role"/> read it.</summary>
    public string GrantFor(string role) => $"GRANT USAGE ON SCHEMA {Db.Ident(Schema)} TO {Db.Ident(role)}; GRANT SELECT ON {Db.Qualified(Schema, Name)} TO {Db.Ident(role)};";
}

/// <summary>The user tables (UserTables.sql: the tables pg_dump dumps the rows of), as the login role can read them.</summary>
internal static class UserTables
{
    /// <summary>User tables and sequences the login role may not read: a dump would stop at the first.</summary>
    public static Task<List<UnreadableRelation>> UnreadableAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ListAsync(conn, CatalogSql.Load("UnreadableTables.sql"), r => new UnreadableRelation(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken);
}
