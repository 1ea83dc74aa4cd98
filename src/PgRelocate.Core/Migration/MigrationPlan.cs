using PgRelocate.Errors;
using PgRelocate.Migration.Steps;
using PgRelocate.Progress;

namespace PgRelocate.Migration;

/// <summary>The steps of a migration, in order. A step added here appears in journals, progress and reports.</summary>
public static class MigrationPlan
{
    public static IReadOnlyList<IMigrationStep> Steps() =>
    [
        new CheckStep(),
        new RolesStep(),
        new ReadOnlySourceStep(),
        new DumpStep(),
        new StageStep(),
        new RestoreStep(),
        new DirectCopyStep(),
        new OwnersStep(),
        new SettingsStep(),
        new VerifyStep(),
        new CutoverStep(),
        new CleanupStep(),
    ];

    /// <summary>How the migration reaches the store of its --via location (no secrets: those come from the environment).</summary>
    public static Staging.StagingOptions StagingOf(MigrationJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        string? Text(string key) => journal.Options.GetValueOrDefault(key) is { Length: > 0 } v ? v : null;
        return new Staging.StagingOptions
        {
            Profile = Text("profile"),
            Region = Text("region"),
            EndpointUrl = Text("endpointUrl"),
            Provider = Text("provider"),
            Sse = Text("sse"),
            SseKmsKeyId = Text("sseKmsKeyId"),
        };
    }

    /// <summary>
    /// Aborts the uploads into the migration's --via location that a killed run of it left unfinished (their
    /// parts are kept, and billed, by the store until aborted). Returns how many were aborted.
    /// </summary>
    public static async Task<int> AbortAbandonedUploadsAsync(MigrationJournal journal, Progress.IReporter reporter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journal);
        if (journal.Options.GetValueOrDefault("via") is not { } via || via == "(local file)")
        {
            return 0;
        }

        var location = Staging.StagingLocation.Parse(via);
        var store = Staging.StagingStores.Open(location, StagingOf(journal), reporter);
        var aborted = await Staging.PendingUploads.AbortAbandonedAsync(store, location.Key, cancellationToken);
        if (aborted > 0)
        {
            journal.AddLog($"Aborted {aborted} unfinished {Sentences.Plural(aborted, "upload")} to {location} left by a killed run.");
            reporter.Info($"Aborted {aborted} unfinished {Sentences.Plural(aborted, "upload")} to {location} left by a killed run.");
        }

        return aborted;
    }

    /// <summary>Rebuilds the options a migration was started with from its journal and fresh connections.</summary>
    public static MigrationOptions FromJournal(MigrationJournal journal, Connections.PgConnectionInfo source, Connections.PgConnectionInfo target, bool showSecrets, Connections.PgConnectionInfo? pgbouncerAdmin = null)
    {
        var o = journal.Options;
        bool Flag(string key) => bool.TryParse(o.GetValueOrDefault(key), out var v) && v;
        return new MigrationOptions
        {
            Source = source,
            Into = new Targets.TargetOptions
            {
                Connection = target,
                Confirm = o.GetValueOrDefault("confirm") ?? target.Database,
                LockTimeout = double.TryParse(o.GetValueOrDefault("lockTimeoutSeconds"), System.Globalization.CultureInfo.InvariantCulture, out var wait) && wait > 0
                    ? TimeSpan.FromSeconds(wait)
                    : Targets.TargetRequirements.DefaultLockTimeout,
                Jobs = int.TryParse(o.GetValueOrDefault("jobs"), System.Globalization.CultureInfo.InvariantCulture, out var jobs) ? jobs : 2,
            },
            Via = o.GetValueOrDefault("via") is { } via && via != "(local file)" ? via : null,
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
            Fallback = Flag("fallback"),
            MaxFallbackQueue = long.TryParse(o.GetValueOrDefault("maxFallbackQueue"), System.Globalization.CultureInfo.InvariantCulture, out var queue) ? queue : null,
            CarrySchemaChanges = o.GetValueOrDefault("onSchemaChange") != "stop",
            Staging = StagingOf(journal),
            Roles = Flag("roles"),
            RoleRenames = Catalog.RoleMap.FromJournal(o.GetValueOrDefault("mapRole")),
            PrivilegedAttributes = Flag("rolesWithPrivilegedAttributes"),
            // A journal written before the estimate existed records none: its check step measured none.
            EstimateBudget = double.TryParse(o.GetValueOrDefault("estimateSeconds"), System.Globalization.CultureInfo.InvariantCulture, out var budget) ? TimeSpan.FromSeconds(budget) : null,
            Allow = (o.GetValueOrDefault("allow") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal),
            PgBouncer = Poolers.PgBouncerOptions.FromJournal(o, pgbouncerAdmin),
        };
    }
}
