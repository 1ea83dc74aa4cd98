using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// What a migration must keep, in a form tests compare: every user table with its exact row count and an
/// order-independent digest of its rows, sequence values, and large objects.
/// </summary>
public static class Snapshot
{
    public static async Task<List<string>> TakeAsync(PgConnectionInfo db)
    {
        var rows = new List<string>();
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await Db.ExecuteAsync(conn, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3", CancellationToken.None);
        var tables = new List<string>();
        await using (var cmd = new NpgsqlCommand("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1", conn))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                tables.Add(r.GetString(0));
            }
        }

        foreach (var t in tables)
        {
            await using var cmd = new NpgsqlCommand($"SELECT count(*), coalesce(sum(hashtext(x::text)::bigint), 0) FROM {t} x", conn);
            await using var r = await cmd.ExecuteReaderAsync();
            await r.ReadAsync();
            rows.Add($"{t}:{r.GetInt64(0)}:{r.GetDecimal(1)}");
        }

        await using (var cmd = new NpgsqlCommand("SELECT format('%I.%I', schemaname, sequencename) || '=' || coalesce(last_value, 0) FROM pg_sequences ORDER BY 1", conn))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                rows.Add(r.GetString(0));
            }
        }

        rows.Add($"large objects:{await Db.ScalarAsync<long>(conn, "SELECT count(*) FROM pg_largeobject_metadata", CancellationToken.None)}");
        return rows;
    }
}
