namespace PgRelocate.Restore;

/// <summary>Where a restore reads its archive from.</summary>
public abstract record ArchiveInput
{
    /// <summary>How the archive is named in messages: never a secret (a signed URL shows as host and path).</summary>
    public abstract string Display { get; }
}

/// <summary>A regular file: seekable, so pg_restore reads it directly and may restore in parallel.</summary>
public sealed record LocalArchive(string Path) : ArchiveInput
{
    public override string Display => Path;
}

/// <summary>
/// An archive read as a stream (a URL, an object store). pg_restore reads it from standard input, serially.
/// <paramref name="Open"/> is called once; the stream it returns is expected to survive network faults
/// on its own (the staging layer resumes with Range requests).
/// </summary>
public sealed record StreamedArchive(string Name, long? Length, Func<CancellationToken, Task<Stream>> Open) : ArchiveInput
{
    public override string Display => Name;
}

/// <summary>
/// An archive still being written into a local file (by a dump, or a download) while it is restored: read
/// as it grows, in parallel when there are several jobs. The restore fails if the writing fails.
/// </summary>
public sealed record GrowingArchive(string Name, ArchiveSpool Spool) : ArchiveInput
{
    public override string Display => Name;
}
