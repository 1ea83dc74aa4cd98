using System.Text.Json;
using System.Text.Json.Serialization;
using PgRelocate.Archives;
using PgRelocate.Online;
using PgRelocate.Preflight;
using PgRelocate.Progress;
using PgRelocate.Settings;
using PgRelocate.Verify;

namespace PgRelocate.Cli;

// What the commands print with --json: one record a shape, camelCase (JsonResults below), so that writing them is
// generated when the tool is built and nothing is worked out by reflection as it runs (the Linux tool is compiled
// to native code, which keeps no member its code does not name).

internal sealed record CheckJson(string Source, string? Target, bool Blocked, CheckCountsJson Counts, IReadOnlyList<CheckItemJson> Checks, EstimateJson? Estimate = null);

/// <summary>check's estimate: seconds and bytes (a value it could not predict is left out, the basis says why).</summary>
internal sealed record EstimateJson(
    double CopySeconds,
    double DumpRestoreSeconds,
    double StagedSeconds,
    double? SourceWalBytesPerSecond,
    double? SlotWalBytesAtCatchUp,
    double? CatchUpSeconds,
    double OfflineDowntimeSeconds,
    double? OnlineDowntimeSeconds,
    string RecommendedPath,
    string Why,
    double? SourceReadBytesPerSecond,
    double? TargetWriteBytesPerSecond,
    double SourceRoundTripMs,
    double? TargetRoundTripMs,
    IReadOnlyList<TableWriteJson> BusiestTables,
    double MeasuredSeconds,
    IReadOnlyList<string> Basis)
{
    public static EstimateJson Of(Estimate e)
    {
        var m = e.Measures;
        return new EstimateJson(
            R(e.CopySeconds), R(e.DumpRestoreSeconds), R(e.StagedSeconds), R(e.SourceWalBytesPerSecond), R(e.SlotWalBytesAtCatchUp), R(e.CatchUpSeconds),
            R(e.OfflineDowntimeSeconds), R(e.OnlineDowntimeSeconds), e.RecommendedPath, e.Why,
            R(m.SourceReadBytesPerSecond), R(m.TargetWriteBytesPerSecond), R(m.SourceRoundTrip.TotalMilliseconds, 3), R(m.TargetRoundTrip?.TotalMilliseconds, 3),
            [.. m.BusiestTables.Select(t => new TableWriteJson(t.Table, R(t.RowsPerSecond)))], R(m.Took.TotalSeconds), e.Basis);
    }

    private static double R(double value, int digits = 2) => Math.Round(value, digits);

    private static double? R(double? value, int digits = 2) => value is { } v ? Math.Round(v, digits) : null;
}

internal sealed record TableWriteJson(string Table, double RowsPerSecond);

internal sealed record CheckCountsJson(int Ok, int Warn, int Block);

internal sealed record CheckItemJson(string Check, CheckStatus Status, string Found, string Next, IReadOnlyList<string> Details);

internal sealed record IssueJson(string Entry, string Message, string? Why);

internal sealed record ErrorJson(string Entry, string Message, string? Command);

internal sealed record RoleJson(string Role, string Action, string Note)
{
    /// <summary>Each role <c>--roles</c> created or found, as copy and restore print them.</summary>
    public static List<RoleJson> Of(IEnumerable<Catalog.RoleOutcome> roles) => [.. roles.Select(r => new RoleJson(r.Role, r.Action, r.Note))];
}

internal sealed record RestoreJson(string Status, string Target, IReadOnlyList<IssueJson> Warnings, IReadOnlyList<ErrorJson> Errors, IReadOnlyList<RoleJson> Roles, string Log, double Seconds);

internal sealed record OwnersAndGrantsJson(int Owners, int Grants, int DefaultPrivileges);

internal sealed record CopyStepJson(string Step, string Object, double Start, double Seconds, long? Rows, long? Bytes);

internal sealed record CopyJson(
    string Status, string Source, string Target, double Seconds, int Tables, long Rows, long Bytes, int Sequences, int LargeObjects,
    IReadOnlyList<string> Warnings, IReadOnlyList<RoleJson> Roles, OwnersAndGrantsJson? OwnersAndGrants, IReadOnlyList<CopyStepJson> Steps, string Log);

internal sealed record OrphanedSlotJson(string Slot, long? RetainedBytes, string Cleanup, string? NotReached)
{
    /// <summary>A slot left by a migration whose process is gone; null for none.</summary>
    public static OrphanedSlotJson? Of(OrphanedSlot? orphan) =>
        orphan is null ? null : new(orphan.Slot, orphan.RetainedBytes, orphan.CleanupCommand, orphan.NotReached);
}

internal sealed record ListDatabaseJson(string Id, string Status, string Step, string Source, string Target);

internal sealed record ListJson(
    string Id, string Status, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, string Source, string Target, string Step,
    OrphanedSlotJson? OrphanedSlot, IReadOnlyList<ListDatabaseJson>? Databases);

internal sealed record StatusStepJson(string Name, string Status, string? Summary, string? Error);

internal sealed record StatusDatabaseJson(string Database, string Id, string Status, IReadOnlyList<ProgressUpdate> Progress);

internal sealed record StatusJson(
    string Id, string Status, IReadOnlyList<ProgressUpdate> Progress, OnlineStatus? Online, IReadOnlyList<StatusStepJson> Steps,
    OrphanedSlotJson? OrphanedSlot, IReadOnlyList<StatusDatabaseJson>? Databases)
{
    /// <summary>Why a migration that ended without completing ended (its failed step's message), as the text form says it.</summary>
    public string? Error { get; init; }

    /// <summary>What to do next about it (<see cref="Migration.NextStep"/>): the resume, pasted as printed, or to run it again.</summary>
    public string? Next { get; init; }
}

internal sealed record UrlJson(string Url, string? ManifestUrl, DateTimeOffset ExpiresAt, string? Heroku);

/// <param name="ApplicationPauseSeconds">Behind PgBouncer (--pgbouncer): how long the application's queries waited there, from PAUSE to RESUME.</param>
internal sealed record CutoverJson(string Id, string Status, double? WriteDowntimeSeconds, string DatabaseUrl, string? Error, double? ApplicationPauseSeconds = null);

/// <summary>How `rollback` or `finish` ended the way back: the database in use now (the old source after a rollback).</summary>
internal sealed record WayBackJson(string Id, string Status, string Ended, string DatabaseUrl, string? Error);

internal sealed record CutoverDatabaseJson(string Database, string Id, string Status, double? WriteDowntimeSeconds, string DatabaseUrl, string? Error);

internal sealed record CutoverInstanceJson(string Id, string Status, string? Error, IReadOnlyList<CutoverDatabaseJson> Databases);

internal sealed record StagedRemovedJson(string Deleted, bool Existed, int AbortedUploads);

internal sealed record DumpJson(string Archive, string ManifestPath, DumpManifest Manifest);

internal sealed record SettingsJson(string Source, string Target, IReadOnlyList<SettingDifference> Behaviour, IReadOnlyList<SettingDifference> Infrastructure);

internal sealed record SettingsAppliedJson(string Target, IReadOnlyList<string> Applied);

internal sealed record DetachedJson(string Id, string Folder, int Pid);

/// <summary>
/// The commands' JSON: indented, camelCase, nulls left out, enums by their camelCase names. Every shape a command
/// prints is listed here, and a command names the one it prints (CommandContext.WriteJson), so an unlisted one does not compile.
/// </summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(CamelCaseEnum<CheckStatus>), typeof(CamelCaseEnum<DifferenceKind>), typeof(CamelCaseEnum<VerifyMode>), typeof(CamelCaseEnum<SettingGroup>)])]
[JsonSerializable(typeof(CheckJson))]
[JsonSerializable(typeof(RestoreJson))]
[JsonSerializable(typeof(CopyJson))]
[JsonSerializable(typeof(List<ListJson>))]
[JsonSerializable(typeof(StatusJson))]
[JsonSerializable(typeof(UrlJson))]
[JsonSerializable(typeof(CutoverJson))]
[JsonSerializable(typeof(WayBackJson))]
[JsonSerializable(typeof(CutoverInstanceJson))]
[JsonSerializable(typeof(StagedRemovedJson))]
[JsonSerializable(typeof(DumpJson))]
[JsonSerializable(typeof(SettingsJson))]
[JsonSerializable(typeof(SettingsAppliedJson))]
[JsonSerializable(typeof(DetachedJson))]
[JsonSerializable(typeof(VerificationResult))]
[JsonSerializable(typeof(Dictionary<string, string?>))]
internal sealed partial class JsonResults : JsonSerializerContext
{
    private static JsonResults? _lines;

    /// <summary>The same, one object on one line (JSON Lines); made when first asked for, after <see cref="Default"/>.</summary>
    public static JsonResults Lines => _lines ??= new(new JsonSerializerOptions(Default.Options) { WriteIndented = false });
}

/// <summary>An enum written and read by its camelCase name.</summary>
internal sealed class CamelCaseEnum<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.CamelCase)
    where TEnum : struct, Enum;
