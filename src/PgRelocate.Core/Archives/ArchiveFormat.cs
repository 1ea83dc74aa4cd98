namespace PgRelocate.Archives;

/// <summary>
/// Numbers of pg_dump's archive format (pg_backup_archiver.h) that the reader and the framing check share.
/// A version is <c>(major * 256 + minor) * 256 + revision</c>, as pg_dump compares them.
/// </summary>
internal static class ArchiveFormat
{
    public const int Custom = 1;
    public const int Directory = 5;

    public const byte BlockData = 1;
    public const byte BlockLargeObjects = 3;

    public const int OffsetNotSet = 1;
    public const int OffsetSet = 2;
    public const int OffsetNoData = 3;

    public static int Version(int major, int minor, int revision = 0) => ((major * 256) + minor) * 256 + revision;

    /// <summary>The newest format pg_dump writes (1.16, PostgreSQL 17 and 18); pg_restore reads any revision of it.</summary>
    public static readonly int Newest = Version(1, 16, 255);

    /// <summary>Integers carry a sign byte from 1.1 on.</summary>
    public static bool HasSignByte(int version) => version > Version(1, 0);
}
