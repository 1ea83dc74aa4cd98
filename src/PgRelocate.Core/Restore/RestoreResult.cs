using PgRelocate.Errors;
using PgRelocate.Runners;
namespace PgRelocate.Restore;

public enum RestoreStatus
{
    Completed,
    CompletedWithWarnings,
    Failed,
}

/// <summary>How a restore ended. <see cref="LogPath"/> holds pg_restore's whole output.</summary>
public sealed record RestoreResult(
    RestoreStatus Status,
    IReadOnlyList<RestoreIssue> Warnings,
    IReadOnlyList<RestoreIssue> Errors,
    string LogPath,
    TimeSpan Duration,
    IReadOnlyList<string> LastLines)
{
    /// <summary>With --roles: what was done about each role the archive names (empty without).</summary>
    public IReadOnlyList<Catalog.RoleOutcome> Roles { get; init; } = [];

    /// <summary>With --roles: the owners and privileges given after the restore; null without, or when it failed.</summary>
    public Catalog.AccessApplied? Access { get; init; }

    /// <summary>The tables (schema, name) the restore already analyzed as it went.</summary>
    public IReadOnlyCollection<(string Schema, string Name)> Analyzed { get; init; } = [];

    /// <summary>"Completed", "Completed with 2 warnings" or "Failed", as the summary says it.</summary>
    public string StatusText => Status switch
    {
        RestoreStatus.Completed => "Completed",
        RestoreStatus.CompletedWithWarnings => $"Completed with {Sentences.Counted(Warnings.Count, "warning")}",
        _ => "Failed",
    };
}
