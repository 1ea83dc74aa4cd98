namespace PgRelocate.Restore;

/// <summary>Where a restore reads its archive from.</summary>
public abstract record ArchiveInput
{
    /// <summary>How the archive is named in messages: never a secret (a signed URL shows as host and path).</summary>
    public abstract string Display { get; }
}

/// <summary>A regular file: seekable, so pg_restore reads it directly and may restore in parallel.</summary>
internal sealed record LocalArchive(string Path) : ArchiveInput
{
    /// <summary>How the archive is named in messages, when not by its path (a download's temporary copy).</summary>
    public string? Name { get; init; }

    /// <summary>Already known whole (checked against its manifest, or read through, as it was downloaded): not checked again.</summary>
    public bool Checked { get; init; }

    public override string Display => Name ?? Path;
}

/// <summary>
/// An archive still being written into a local file by our own dump while it is restored: read as it grows,
/// on parallel lanes (see <see cref="ScheduledRestore"/>). The restore fails if the writing fails.
/// </summary>
public sealed record GrowingArchive(string Name, ArchiveSpool Spool) : ArchiveInput
{
    public override string Display => Name;
}
