using Npgsql;
using PgRelocate.Archives;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Runners;

namespace PgRelocate.Restore;

/// <summary>
/// An extension's configuration tables (<c>pg_extension_config_dump</c>, PostGIS's <c>spatial_ref_sys</c>):
/// pg_dump always writes their rows, but the extension on the target was created by its own role, and a
/// non-superuser login role usually may not add rows to them. Such rows are left out on purpose and named in
/// the result as a warning, instead of failing the restore (and, in a following restore, its post-data).
/// </summary>
internal static class ExtensionTables
{
    /// <summary>
    /// The rows entries of <paramref name="toc"/> whose table belongs to an extension on the target and may not
    /// be written by the login role (asked once the pre-data section, which creates the extensions, is in).
    /// </summary>
    public static async Task<IReadOnlyList<(int Id, RestoreIssue Warning)>> UnwritableAsync(PgConnectionInfo target, IReadOnlyList<ArchiveEntry> toc, CancellationToken cancellationToken)
    {
        var members = await MembersAsync(target, toc, cancellationToken);
        return members.Where(m => !m.Member.Writable).Select(m => (m.Entry.Id, Skipped(m.Entry, m.Member.Extension))).ToList();
    }

    /// <summary>
    /// When a restore replaces what the target held (<c>--confirm</c>): the emptying keeps the provider's
    /// extensions, and with them the rows an earlier restore added to their configuration tables (a user's
    /// SRID, a setting). Those are the rows the archive brings again, so they are deleted first (the rows pg_dump
    /// selects with the extension's own condition), or loading them would fail on the table's keys.
    /// </summary>
    /// <returns>The tables cleared, "schema.name", for the log.</returns>
    public static async Task<IReadOnlyList<string>> ClearRestoredRowsAsync(PgConnectionInfo target, IReadOnlyList<ArchiveEntry> toc, CancellationToken cancellationToken)
    {
        var tables = (await MembersAsync(target, toc, cancellationToken)).Where(m => m.Member is { Config: true, Writable: true, Deletable: true }).ToList();
        if (tables.Count == 0)
        {
            return [];
        }

        await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
        foreach (var (entry, member) in tables)
        {
            await Db.ExecuteAsync(conn, $"DELETE FROM {Db.Qualified(entry.Schema!, entry.Tag)} {member.Condition}", cancellationToken);
        }

        return tables.Select(t => t.Entry.QualifiedTag).ToList();
    }

    /// <summary>The rows entries of <paramref name="toc"/> whose table belongs to an extension on the target, with what the target says of that table.</summary>
    private static async Task<List<(ArchiveEntry Entry, Member Member)>> MembersAsync(PgConnectionInfo target, IReadOnlyList<ArchiveEntry> toc, CancellationToken cancellationToken)
    {
        var data = toc.Where(e => e.Kind == ArchiveToc.TableData && e.Schema is not null).ToList();
        if (data.Count == 0)
        {
            return [];
        }

        var members = new Dictionary<(string, string), Member>();
        await using (var conn = await Db.OpenAsync(target, "target", cancellationToken))
        {
            await using var cmd = new NpgsqlCommand(Sql, conn);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                members[(reader.GetString(0), reader.GetString(1))] = new Member(
                    reader.GetString(2), reader.GetBoolean(3), reader.IsDBNull(4) ? "" : reader.GetString(4), reader.GetBoolean(5), reader.GetBoolean(6));
            }
        }

        return data.Where(e => members.ContainsKey((e.Schema!, e.Tag))).Select(e => (e, members[(e.Schema!, e.Tag)])).ToList();
    }

    /// <summary>A table of an extension on the target: may the login role add rows, and which rows pg_dump dumps of it.</summary>
    private sealed record Member(string Extension, bool Writable, string Condition, bool Config, bool Deletable);

    /// <summary>The warning for rows left out: which table, which extension, and what to do about them.</summary>
    public static RestoreIssue Skipped(ArchiveEntry entry, string extension) => new(
        entry.ToString(),
        $"rows not restored: {entry.QualifiedTag} is a configuration table of extension {extension}, and the login role may not add rows to it",
        null,
        $"the rows the extension installs itself are there; rows added on the source are not: grant INSERT on it to the login role and restore again, or add them by hand");

    private static string Sql { get; } = CatalogSql.Load("Restore/ExtensionTables.sql");
}
