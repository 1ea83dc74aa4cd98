using PgRelocate.Progress;
using PgRelocate.Staging;

namespace PgRelocate.Migration.Steps;

/// <summary>The archive of a migration that stages it in a store (--via): where it is, and how to sign it.</summary>
internal static class StagedArchive
{
    public static StagingLocation Location(MigrationOptions options) => StagingLocation.Parse(options.Via!);

    public static IStagingStore Store(MigrationOptions options, IReporter reporter) =>
        StagingStores.Open(Location(options), options.Staging, reporter);

    /// <summary>
    /// A fresh read-only signed URL for the archive. It is a bearer secret: it is handed to the restore and
    /// never recorded (the journal and the report show it redacted).
    /// </summary>
    public static Uri SignedUrl(MigrationOptions options, IReporter reporter) =>
        Store(options, reporter).PresignGet(Location(options).Key, DateTimeOffset.UtcNow + Expiry.Default);
}
