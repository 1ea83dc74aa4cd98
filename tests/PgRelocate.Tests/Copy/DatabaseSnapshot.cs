using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Copy;

/// <summary>
/// What must be equal between a source and its copy, as comparable lines: every table's exact row count and
/// an order-independent digest of its rows, every sequence's state, every index, constraint and trigger
/// definition, and the large objects' contents.
/// </summary>
public static class DatabaseSnapshot
{
    /// <summary>Relations of the sample database's schemas not owned by the login role: 0 after a restore or copy, which reassigns them all.</summary>
    public static Task<long> SampleObjectsNotOwnedByLoginAsync(PgConnectionInfo db) => PgServer.ScalarAsync<long>(db, """
        SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('shop', 'billing', 'reporting') AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
        """);

    public static async Task<List<string>> TakeAsync(PgConnectionInfo db)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        // The same renderings on both sides, whatever the servers' defaults.
        await Db.ExecuteAsync(conn, "SET extra_float_digits = 3; SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC'", CancellationToken.None);
        var lines = new List<string>();
        foreach (var table in await ListAsync(conn, """
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
            ORDER BY 1
            """))
        {
            lines.Add(table + " " + string.Join(' ', await ListAsync(conn, $"SELECT count(*) || ' ' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM ONLY {table} t")));
        }

        foreach (var seq in await ListAsync(conn, "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences ORDER BY 1"))
        {
            lines.AddRange(await ListAsync(conn, $"SELECT '{seq} ' || last_value || ' ' || is_called FROM {seq}"));
        }

        lines.AddRange(await ListAsync(conn, "SELECT schemaname || ' ' || indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"));
        lines.AddRange(await ListAsync(conn, """
            SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' valid=' || convalidated
            FROM pg_constraint WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) AND conrelid <> 0 ORDER BY 1
            """));
        lines.AddRange(await ListAsync(conn, "SELECT tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"));
        lines.AddRange(await ListAsync(conn, "SELECT 'large object ' || oid || ' ' || md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid"));
        return lines;
    }

    private static async Task<List<string>> ListAsync(NpgsqlConnection conn, string sql)
    {
        var result = new List<string>();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            result.Add(r.GetString(0));
        }

        return result;
    }
}
