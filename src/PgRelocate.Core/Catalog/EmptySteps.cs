using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Catalog;

/// <summary>
/// One statement of the emptying (EmptyPlan.sql): its step (13 drops a publication, 14 an extension), the SQL, what it drops
/// (classid and objid as pg_depend names it; none for the large objects' statement, which unlinks up to a
/// thousand and is repeated until none is left) and about how many locks it takes (EmptySteps.sql).
/// </summary>
internal sealed record EmptyStep(int Step, string Sql, string Name, uint? ClassId, uint? ObjectId, long Locks)
{
    /// <summary>The step of the statements that drop an extension.</summary>
    public const int ExtensionStep = 14;

    /// <summary>The large objects' statement: run again until it unlinks none.</summary>
    public bool Repeats => ClassId is null;
}

/// <summary>The emptying's statements in the order they run, with the locks each takes (EmptySteps.sql).</summary>
internal static class EmptySteps
{
    /// <summary>Reads them; the session's search_path must be empty, so that every name prints qualified.</summary>
    public static Task<List<EmptyStep>> ReadAsync(NpgsqlConnection conn, CancellationToken cancellationToken) =>
        Db.ListAsync(conn, CatalogSql.Load("EmptySteps.sql"), r => new EmptyStep(
            r.GetInt32(0), r.GetString(1), r.GetString(2),
            r.IsDBNull(3) ? null : r.GetFieldValue<uint>(3), r.IsDBNull(4) ? null : r.GetFieldValue<uint>(4), r.GetInt64(5)), cancellationToken);
}
