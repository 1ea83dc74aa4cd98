using System.Text.Json;
using PgRelocate.Migration;

namespace PgRelocate.Online;

/// <summary>The phases of an online migration once it follows the source: the lag's (<see cref="LagPhases"/>), then the switched one.</summary>
internal static class OnlinePhases
{
    /// <inheritdoc cref="LagPhases.Follow"/>
    public const string Follow = LagPhases.Follow;

    /// <inheritdoc cref="LagPhases.Verify"/>
    public const string Verify = LagPhases.Verify;

    /// <inheritdoc cref="LagPhases.Cutover"/>
    public const string Cutover = LagPhases.Cutover;

    /// <summary>The cutover is done: the applications write to the target.</summary>
    public const string Switched = "switched";

    /// <summary>After the switch, with --fallback: the target's changes are carried back into the old source.</summary>
    public const string WayBack = "way back";
}

/// <summary>
/// The state of an online migration's follow, rewritten every second in its folder for `pgrelocate status`:
/// the phase, the lag in bytes and seconds, the apply rate.
/// </summary>
public sealed record OnlineStatus
{
    public const string FileName = "online.json";

    public string Phase { get; init; } = OnlinePhases.Follow;

    public string AppliedLsn { get; init; } = "";

    /// <summary>WAL the source has written past what the target confirmed.</summary>
    public long LagBytes { get; init; }

    /// <summary>How old the oldest change not yet applied is; 0 when caught up.</summary>
    public double LagSeconds { get; init; }

    /// <summary>WAL the slot keeps on the source.</summary>
    public long RetainedBytes { get; init; }

    public double ChangesPerSecond { get; init; }

    public double TransactionsPerSecond { get; init; }

    public long Changes { get; init; }

    public long Transactions { get; init; }

    /// <summary>
    /// What holds the apply up when it has not moved for a while: the table it waits to lock on the target and
    /// the server process that holds the lock; null while it moves.
    /// </summary>
    public string? Blocked { get; init; }

    /// <summary>The source's tables the follow cannot carry to the target yet (a warning says why); null when none waits.</summary>
    public IReadOnlyList<string>? WaitingToCarry { get; init; }

    /// <summary>The way back's queue on the target, on disk (<see cref="OnlinePhases.WayBack"/> only); null for a way back by a slot, whose WAL on the target <see cref="RetainedBytes"/> shows.</summary>
    public long? QueueBytes { get; init; }

    public DateTimeOffset UpdatedAt { get; init; } = DateTimeOffset.UtcNow;

    public void Write(string folder)
    {
        var path = Path.Combine(folder, FileName);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(this, OnlineStatusJson.Default.OnlineStatus));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The last status written in <paramref name="folder"/>, or null.</summary>
    public static OnlineStatus? Read(string folder)
    {
        var path = Path.Combine(folder, FileName);
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllText(path), OnlineStatusJson.Default.OnlineStatus) : null;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    public string Describe() => Phase == OnlinePhases.WayBack
        ? $"{Phase}: the old source follows the target{(QueueBytes is { } queue ? $"; lag {LagSeconds:0.0}s, queue {Progress.Units.Bytes(queue)} on the target" : $" by a replication slot; lag {LagSeconds:0.0}s, the slot holds {Progress.Units.Bytes(RetainedBytes)} of the target's WAL")}; {Changes} changes in {Transactions} transactions applied to the old source"
        : (Phase == OnlinePhases.Verify
        ? $"{Phase}: the target is compared with the source as of one position while the follow goes on; lag {Progress.Units.Bytes(LagBytes)}, {LagSeconds:0.0}s; {ChangesPerSecond:0} changes/s; {Changes} changes applied"
        : $"{Phase}: lag {Progress.Units.Bytes(LagBytes)}, {LagSeconds:0.0}s; {ChangesPerSecond:0} changes/s, {TransactionsPerSecond:0} transactions/s; {Changes} changes applied")
        + (Blocked is null ? "" : $"; blocked: {Blocked}")
        + (WaitingToCarry is [_, ..] waiting ? $"; waiting to carry {string.Join(", ", waiting)} to the target (the log's warning says why; the cutover waits too)" : "");
}
