namespace PgRelocate.Online.Steps;

/// <summary>
/// The time since the source became read-only, split into named phases: the cutover's "Where the write downtime
/// went" table, in the order the cutover laps them.
/// </summary>
internal sealed class DowntimePhases(DateTimeOffset start)
{
    /// <summary>The first phase: from the moment the source refused writes (its sessions ended) to the cutover step's start.</summary>
    public const string ReadOnly = "source made read-only";

    /// <summary>The cutover's marker written into the source's WAL, and the changes before it applied (those the follow had not yet).</summary>
    public const string LastChanges = "last changes applied";

    private DateTimeOffset _last = start;

    public List<(string Name, double Seconds)> Laps { get; } = [];

    public void Lap(string name)
    {
        var now = DateTimeOffset.UtcNow;
        Laps.Add((name, (now - _last).TotalSeconds));
        _last = now;
    }

    public double Seconds(string name) => Laps.FirstOrDefault(l => l.Name == name).Seconds;
}
