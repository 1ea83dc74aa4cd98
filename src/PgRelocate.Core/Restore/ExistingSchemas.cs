using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Runners;

namespace PgRelocate.Restore;

/// <summary>
/// The archive's schemas that the target, once prepared, already has: the schemas the emptying keeps because
/// they hold the provider's extensions, or an extension's control file created them. Such a schema is no
/// extension member, so pg_dump writes CREATE SCHEMA for it, which fails on the target ("already exists") and
/// stops the pre-data section. Its SCHEMA entry is left out, with the entries that only decorate it (its
/// comment, security label and grants), and each is named in the result as a note. Every restore path (the
/// plain and the following restore, copy's schema) selects its entries through <see cref="Restored"/> and
/// runs with <see cref="ListFileAsync"/>.
/// </summary>
internal sealed class ExistingSchemas
{
    private static readonly string[] DecoratingKinds = ["COMMENT", "SECURITY LABEL", "ACL"];

    private ExistingSchemas(IReadOnlySet<int> leftOut, IReadOnlyList<RestoreIssue> notes)
    {
        LeftOut = leftOut;
        Notes = notes;
    }

    /// <summary>Nothing left out.</summary>
    public static ExistingSchemas None { get; } = new(new HashSet<int>(), []);

    /// <summary>The ids of the entries left out.</summary>
    public IReadOnlySet<int> LeftOut { get; }

    /// <summary>One harmless note per schema left out.</summary>
    public IReadOnlyList<RestoreIssue> Notes { get; }

    /// <summary>Asks the target (after it was prepared) which of the archive's schemas it already has.</summary>
    public static async Task<ExistingSchemas> FindAsync(PgConnectionInfo target, IReadOnlyList<ArchiveEntry> toc, CancellationToken cancellationToken)
    {
        if (!toc.Any(e => e.Kind == "SCHEMA"))
        {
            return None;
        }

        await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
        var names = await Db.ListAsync(conn, "SELECT nspname FROM pg_catalog.pg_namespace", r => r.GetString(0), cancellationToken);
        return Find(toc, names.ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>The SCHEMA entries of <paramref name="toc"/> for schemas in <paramref name="onTarget"/>, and what decorates them.</summary>
    public static ExistingSchemas Find(IReadOnlyList<ArchiveEntry> toc, IReadOnlySet<string> onTarget)
    {
        // pg_restore itself never creates public (it skips pg_dump's CREATE SCHEMA public), and an entry with no
        // statement creates nothing: those are left as they are.
        var schemas = toc.Where(e => e.Kind == "SCHEMA" && e.Tag != "public" && onTarget.Contains(e.Tag) && !string.IsNullOrWhiteSpace(e.Definition)).ToList();
        if (schemas.Count == 0)
        {
            return None;
        }

        var tags = schemas.Select(s => "SCHEMA " + s.Tag).ToHashSet(StringComparer.Ordinal);
        var ids = schemas.Select(s => s.Id).ToHashSet();
        foreach (var e in toc)
        {
            if (e.Schema is null && DecoratingKinds.Contains(e.Kind) && tags.Contains(e.Tag))
            {
                ids.Add(e.Id);
            }
        }

        var notes = schemas.Select(s => new RestoreIssue(
            s.ToString(),
            $"not created: the target already has schema {s.Tag} (kept when it was prepared: a schema of its extensions); the archive's objects in it are restored into it",
            null,
            "the target's own schema is kept as it is, with its owner, comment and grants")).ToList();
        return new ExistingSchemas(ids, notes);
    }

    /// <summary><paramref name="entries"/> without the ones left out.</summary>
    public IReadOnlyList<ArchiveEntry> Restored(IReadOnlyList<ArchiveEntry> entries) =>
        LeftOut.Count == 0 ? entries : [.. entries.Where(e => !LeftOut.Contains(e.Id))];

    /// <summary>
    /// For a run that would otherwise restore everything its sections select: null (every entry) when nothing
    /// is left out, else the path of a list of <paramref name="toc"/> without the entries left out, written to
    /// <paramref name="path"/> (<see cref="Runners.PgRestoreCall.EntryList"/>).
    /// </summary>
    public async Task<string?> ListFileAsync(IReadOnlyList<ArchiveEntry> toc, string path, CancellationToken cancellationToken)
    {
        if (LeftOut.Count == 0)
        {
            return null;
        }

        await File.WriteAllLinesAsync(path, Restored(toc).Select(e => e.ListLine), cancellationToken);
        return path;
    }
}
