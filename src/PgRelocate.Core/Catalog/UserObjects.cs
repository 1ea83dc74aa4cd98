using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>A user object found in a database: its kind ("table", "function", ...) and qualified name.</summary>
internal sealed record UserObject(string Kind, string Name)
{
    public override string ToString() => $"{Kind} {Name}";
}

/// <summary>
/// What makes a database "not empty" (UserObjects.sql): everything in a user schema that is not part of an
/// extension, the user schemas besides public and the extensions' and provider's schemas, the publications,
/// and large objects. The check before a restore, the restore itself and the emptying all ask this one question.
/// </summary>
internal static class UserObjects
{
    public static Task<List<UserObject>> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ListAsync(conn, CatalogSql.Load("UserObjects.sql"), r => new UserObject(r.GetString(0), r.GetString(1)), cancellationToken);

    /// <summary>"table public.a, view public.b and 3 more": a few of them for a one-line message.</summary>
    public static string Sample(IReadOnlyCollection<UserObject> objects, int max = 3) =>
        Errors.Sentences.FirstFew(objects.Select(o => o.ToString()).ToList(), max);
}
