using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Online;

/// <summary>
/// The rows the source added to its extensions' configuration tables (a user's SRID, a setting). The snapshot
/// copy moves them as every copy does, but their later changes are not in the stream: the tables belong to
/// the extension's owner, and the login role can only publish its own. So the cutover compares them again
/// and, where they differ, replaces the target's rows with the source's (the rows pg_dump would dump, as the
/// copy does). Where the target's login role may not write the table, a warning names it instead.
/// </summary>
internal static class ConfigurationRows
{
    /// <summary>An extension's configuration table on the source: its quoted name, the condition pg_dump dumps its rows by (or ""), and its columns.</summary>
    public sealed record Table(string Name, string Condition, string Columns);

    /// <summary>The statement that lists the source's configuration tables (then <see cref="ReadTablesAsync"/>).</summary>
    public static string TablesSql => OnlineSql.ConfigurationTables;

    /// <summary>Reads <see cref="TablesSql"/>'s rows, the reader at its result.</summary>
    public static async Task<IReadOnlyList<Table>> ReadTablesAsync(NpgsqlDataReader r, CancellationToken cancellationToken)
    {
        var tables = new List<Table>();
        while (await r.ReadAsync(cancellationToken))
        {
            tables.Add(new Table(r.GetString(0), r.GetString(1), r.GetString(2)));
        }

        return tables;
    }

    /// <summary>The configuration tables of the extensions of the database <paramref name="conn"/> is on (<see cref="TablesSql"/>).</summary>
    public static async Task<IReadOnlyList<Table>> ListAsync(NpgsqlConnection conn, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(TablesSql, conn);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        return await ReadTablesAsync(r, cancellationToken);
    }

    /// <summary>Compares and, where they differ, copies again the rows of <paramref name="tables"/> (<see cref="TablesSql"/>, read on the source once it was read-only).</summary>
    /// <returns>The tables whose rows were copied again (quoted names).</returns>
    public static async Task<IReadOnlyList<string>> CopyChangedAsync(IReadOnlyList<Table> tables, NpgsqlConnection source, NpgsqlConnection target, IReporter reporter, CancellationToken cancellationToken)
    {
        var copied = new List<string>();
        foreach (var (name, condition, columns) in tables)
        {
            var literal = Db.Literal(name);
            var digest = $"SELECT count(*) || ' ' || coalesce(sum(pg_catalog.hashtext(t::text)::bigint), 0) FROM ONLY {name} t {condition}";
            // The source's digest beside the look for the table on the target: at the switch each round trip is downtime.
            var (theirs, there) = (Db.ScalarAsync<string>(source, digest, cancellationToken), Db.ScalarAsync<string>(target, $"SELECT pg_catalog.to_regclass({literal})::text", cancellationToken));
            await Task.WhenAll(theirs, there);
            if (await there is null || await theirs == await Db.ScalarAsync<string>(target, digest, cancellationToken))
            {
                continue;
            }

            if (!await Db.ScalarAsync<bool>(target, $"SELECT pg_catalog.has_table_privilege({literal}, 'INSERT') AND pg_catalog.has_table_privilege({literal}, 'DELETE')", cancellationToken))
            {
                reporter.Warn($"The source's rows of {name}, a configuration table of an extension, differ from the target's, and the login role may not write it on the target: they are not carried; add them there by hand.");
                continue;
            }

            await using var transaction = await target.BeginTransactionAsync(cancellationToken);
            await Db.ExecuteAsync(target, $"DELETE FROM ONLY {name} {condition}", cancellationToken);
            using (var rows = await source.BeginTextExportAsync($"COPY (SELECT {columns} FROM ONLY {name} {condition}) TO STDOUT", cancellationToken))
            await using (var into = await target.BeginTextImportAsync($"COPY {name} ({columns}) FROM STDIN", cancellationToken))
            {
                var buffer = new char[8192];
                int read;
                while ((read = await rows.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    await into.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }

            await transaction.CommitAsync(cancellationToken);
            copied.Add(name);
        }

        return copied;
    }
}
