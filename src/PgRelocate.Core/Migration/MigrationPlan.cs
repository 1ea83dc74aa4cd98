using PgRelocate.Migration.Steps;

namespace PgRelocate.Migration;

/// <summary>The steps of a migration, in order. A step added here appears in journals, progress and reports.</summary>
public static class MigrationPlan
{
    public static IReadOnlyList<IMigrationStep> Steps() =>
    [
        new CheckStep(),
        new ReadOnlySourceStep(),
        new DumpStep(),
        new StageStep(),
        new RestoreStep(),
        new DirectCopyStep(),
        new SettingsStep(),
        new VerifyStep(),
        new CutoverStep(),
        new CleanupStep(),
    ];

    /// <summary>The steps for these options: an online migration has its own (see <see cref="Online.OnlinePlan"/>).</summary>
    public static IReadOnlyList<IMigrationStep> Steps(MigrationOptions options) => options.Online ? Online.OnlinePlan.Steps() : Steps();

    /// <summary>Rebuilds the options a migration was started with from its journal and fresh connections.</summary>
    public static MigrationOptions FromJournal(MigrationJournal journal, Connections.PgConnectionInfo source, Connections.PgConnectionInfo target, bool showSecrets)
    {
        var o = journal.Options;
        bool Flag(string key) => bool.TryParse(o.GetValueOrDefault(key), out var v) && v;
        string? Text(string key) => o.GetValueOrDefault(key) is { Length: > 0 } v ? v : null;
        return new MigrationOptions
        {
            Source = source,
            Target = target,
            Confirm = o.GetValueOrDefault("confirm") ?? target.Database,
            Via = o.GetValueOrDefault("via") is { } via && via != "(local file)" ? via : null,
            Jobs = int.TryParse(o.GetValueOrDefault("jobs"), System.Globalization.CultureInfo.InvariantCulture, out var jobs) ? jobs : 2,
            Compression = int.TryParse(o.GetValueOrDefault("compress"), System.Globalization.CultureInfo.InvariantCulture, out var level) ? level : null,
            ReadOnlySource = Flag("readOnlySource"),
            KeepReadOnly = Flag("keepReadOnly"),
            ApplySettings = Flag("applySettings"),
            KeepArchive = Flag("keepArchive"),
            ShowSecrets = showSecrets,
            CreateBucket = Flag("createBucket"),
            Direct = Flag("direct"),
            Online = Flag("online"),
            AutoCutover = o.GetValueOrDefault("cutover") == "auto",
            MaxLag = TimeSpan.FromSeconds(double.TryParse(o.GetValueOrDefault("maxLagSeconds"), System.Globalization.CultureInfo.InvariantCulture, out var lag) ? lag : 5),
            ReplicaIdentityFull = Flag("replicaIdentityFull"),
            MaxRetainedWal = long.TryParse(o.GetValueOrDefault("maxRetainedWal"), System.Globalization.CultureInfo.InvariantCulture, out var wal) ? wal : null,
            Staging = new Staging.StagingOptions
            {
                Profile = Text("profile"),
                Region = Text("region"),
                EndpointUrl = Text("endpointUrl"),
                Provider = Text("provider"),
                Sse = Text("sse"),
                SseKmsKeyId = Text("sseKmsKeyId"),
            },
            Allow = (o.GetValueOrDefault("allow") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal),
        };
    }
}
