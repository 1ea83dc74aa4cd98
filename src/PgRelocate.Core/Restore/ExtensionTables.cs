using System.Reflection;
using Npgsql;
using PgRelocate.Archives;
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
        var data = toc.Where(e => e.Kind == ArchiveToc.TableData && e.Schema is not null).ToList();
        if (data.Count == 0)
        {
            return [];
        }

        var members = new Dictionary<(string, string), (string Extension, bool Writable)>();
        await using (var conn = await Db.OpenAsync(target, "target", cancellationToken))
        {
            await using var cmd = new NpgsqlCommand(Sql, conn);
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                members[(reader.GetString(0), reader.GetString(1))] = (reader.GetString(2), reader.GetBoolean(3));
            }
        }

        return data
            .Where(e => members.TryGetValue((e.Schema!, e.Tag), out var m) && !m.Writable)
            .Select(e => (e.Id, Skipped(e, members[(e.Schema!, e.Tag)].Extension)))
            .ToList();
    }

    /// <summary>The warning for rows left out: which table, which extension, and what to do about them.</summary>
    public static RestoreIssue Skipped(ArchiveEntry entry, string extension) => new(
        entry.ToString(),
        $"rows not restored: {entry.QualifiedTag} is a configuration table of extension {extension}, and the login role may not add rows to it",
        null,
        $"the rows the extension installs itself are there; rows added on the source are not: grant INSERT on it to the login role and restore again, or add them by hand");

    private static string Sql { get; } = Load();

    private static string Load()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("PgRelocate.Restore.ExtensionTables.sql")
            ?? throw new InvalidOperationException("Embedded resource ExtensionTables.sql is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
