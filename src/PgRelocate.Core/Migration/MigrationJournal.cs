using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using PgRelocate.Errors;

namespace PgRelocate.Migration;

public enum MigrationStatus
{
    Pending,
    Running,
    Completed,
    Failed,
    Canceled,
}

public enum StepStatus
{
    Pending,
    Running,
    Done,
    Skipped,
    Failed,

    /// <summary>Done, then undone when the migration stopped (the read-only source lifted): a resumed run does it again.</summary>
    Undone,
}

/// <summary>A table for the report: a title, column names and rows of text.</summary>
public sealed record ReportTable(string Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows, string? Note = null);

/// <summary>One step of a migration as recorded: what it did and what it left for later steps.</summary>
public sealed class StepRecord
{
    public required string Name { get; init; }

    public StepStatus Status { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>One line for people: "73.2 MB, sha256 ab12…".</summary>
    public string? Summary { get; set; }

    /// <summary>
    /// Values later steps and a resumed run need (archive location, SHA-256, ...), as text by name. Never secrets.
    /// Read and written through typed keys (<see cref="JournalKey{T}"/>): <see cref="Get{T}"/>, <see cref="Set{T}"/>.
    /// </summary>
    [JsonInclude]
    internal Dictionary<string, string> Outputs { get; set; } = new(StringComparer.Ordinal);

    public List<ReportTable> Tables { get; set; } = [];

    /// <summary>An online follow's lag over time (bounded, see <see cref="LagHistory"/>), for the report's chart; null for other steps.</summary>
    public List<LagSample>? Lag { get; set; }

    public string? Error { get; set; }

    /// <summary>The whole exception behind <see cref="Error"/>, stack included, for -v and bug reports.</summary>
    public string? ErrorDetail { get; set; }

    /// <summary>The output <paramref name="key"/> names; null (default) when the step has not written it.</summary>
    public T? Get<T>(JournalKey<T> key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Outputs.TryGetValue(key.Name, out var text) ? key.Read(text) : default;
    }

    /// <summary>Writes the output <paramref name="key"/> names (a null value removes it); the caller saves the journal.</summary>
    public void Set<T>(JournalKey<T> key, T value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (value is null)
        {
            Outputs.Remove(key.Name);
        }
        else
        {
            Outputs[key.Name] = key.Write(value);
        }
    }

    /// <summary>Whether the step has written the output <paramref name="key"/> names.</summary>
    public bool Has<T>(JournalKey<T> key) => Outputs.ContainsKey(key.Name);

    /// <summary>Removes the output <paramref name="key"/> names; true when it was there.</summary>
    public bool Remove<T>(JournalKey<T> key) => Outputs.Remove(key.Name);

    /// <summary>Removes every output: the step starts again from nothing.</summary>
    public void ClearOutputs() => Outputs.Clear();

    /// <summary>Records that the step's effect was undone, so that a resumed run does it again.</summary>
    public void MarkUndone(string what)
    {
        if (Status == StepStatus.Done)
        {
            Status = StepStatus.Undone;
            Summary = what;
        }
    }
}

/// <summary>
/// The record of one migration, kept in its own folder (<c>WORKDIR/ID/journal.json</c>) and rewritten
/// atomically after every change, so a crash at any moment leaves the last consistent state. It holds no
/// secrets: connections are recorded redacted, and a resumed run is given them again.
/// </summary>
public sealed class MigrationJournal
{
    public const string FileName = "journal.json";

    private readonly Lock _lock = new();

    public required string Id { get; init; }

    public required string Source { get; init; }

    public required string Target { get; init; }

    /// <summary>The options the migration was started with, as given (no secrets).</summary>
    public Dictionary<string, string> Options { get; init; } = new(StringComparer.Ordinal);

    public MigrationStatus Status { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>The process running the migration now, so `cancel` can stop it and a second run refuses to start.</summary>
    public int? Pid { get; set; }

    public string? Error { get; set; }

    /// <summary>The whole exception behind <see cref="Error"/>, stack included, for -v and bug reports.</summary>
    public string? ErrorDetail { get; set; }

    public int? ExitCode { get; set; }

    public List<StepRecord> Steps { get; init; } = [];

    /// <summary>What the check step's estimate predicted and what the migration took; null without an estimate (--no-estimate).</summary>
    public EstimatePair? Estimate { get; set; }

    public List<string> Log { get; init; } = [];

    /// <summary>
    /// When the applications were sent to the target (an online cutover's switch). From then on nothing undoes the
    /// switch: a failure or cancel after it leaves the source read-only and the target's data where it is.
    /// </summary>
    public DateTimeOffset? SwitchedAt { get; set; }

    [JsonIgnore]
    public string Folder { get; private set; } = "";

    public static string NewId() =>
        DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + Random.Shared.Next(0x10000).ToString("x4", CultureInfo.InvariantCulture);

    public static MigrationJournal Create(string workDir, string id, string source, string target, IEnumerable<string> steps, Dictionary<string, string> options)
    {
        var journal = new MigrationJournal
        {
            Id = id,
            Source = source,
            Target = target,
            Options = options,
            CreatedAt = DateTimeOffset.UtcNow,
            Status = MigrationStatus.Pending,
            Steps = steps.Select(s => new StepRecord { Name = s }).ToList(),
        };
        journal.Folder = Path.Combine(workDir, id);
        Directory.CreateDirectory(journal.Folder);
        journal.Save();
        return journal;
    }

    /// <summary>
    /// The journal of a new migration in <paramref name="workDir"/>, all its <paramref name="steps"/> pending: the options
    /// recorded as given (<see cref="MigrationOptions.ToJournal"/>, no secrets), with the full path of its report when
    /// one is asked for (<c>--report</c>), which a resumed run writes too.
    /// </summary>
    public static MigrationJournal Create(string workDir, MigrationOptions options, IEnumerable<string> steps, string? report)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Create(workDir, NewId(), options.Source.ToString(), options.Into.Connection.ToString(), steps, Recorded(options, report));
    }

    /// <summary>The options a journal records: <see cref="MigrationOptions.ToJournal"/>, and the report's full path when there is one.</summary>
    internal static Dictionary<string, string> Recorded(MigrationOptions options, string? report)
    {
        var recorded = options.ToJournal();
        if (report is not null)
        {
            recorded[ReportKey] = Path.GetFullPath(report);
        }

        return recorded;
    }

    /// <summary>The option recording the report's full path (<c>--report</c>).</summary>
    public const string ReportKey = "report";

    /// <exception cref="UsageException">No migration with that id in the work folder.</exception>
    public static MigrationJournal Load(string workDir, string id)
    {
        var folder = Path.Combine(workDir, id);
        var file = Path.Combine(folder, FileName);
        if (!File.Exists(file))
        {
            throw new UsageException($"No migration '{id}' in {workDir}: run 'pgrelocate list' to see the migrations there (or pass --workdir).");
        }

        var journal = JsonSerializer.Deserialize(File.ReadAllText(file), JournalJson.Default.MigrationJournal)
            ?? throw new PgRelocateException($"The journal of migration '{id}' is empty.");
        journal.Folder = folder;
        return journal;
    }

    /// <summary>The journal as it is on disk now (another process may have written it since this was read).</summary>
    public MigrationJournal Reload() => Load(Path.GetDirectoryName(Folder)!, Id);

    /// <summary>
    /// This journal, or when it says Running but no process runs it, the journal read again: a process saves its
    /// outcome before it exits, so one that ended between this read and the check has that outcome on disk (a
    /// watcher under load often reads the last Running save, then finds the process gone). Running still, it was interrupted.
    /// </summary>
    public MigrationJournal Settled() =>
        Status == MigrationStatus.Running && Pid != Environment.ProcessId && !IsRunningElsewhere() ? Reload() : this;

    /// <summary>Every migration in the work folder, newest first.</summary>
    public static IReadOnlyList<MigrationJournal> All(string workDir)
    {
        if (!Directory.Exists(workDir))
        {
            return [];
        }

        var result = new List<MigrationJournal>();
        foreach (var dir in Directory.GetDirectories(workDir))
        {
            try
            {
                result.Add(Load(workDir, Path.GetFileName(dir)));
            }
            catch (Exception e) when (e is PgRelocateException or JsonException or IOException)
            {
                // Not a migration folder, or one being written this instant.
            }
        }

        return result.OrderByDescending(j => j.CreatedAt).ToList();
    }

    /// <summary>
    /// The newest <paramref name="count"/> migrations of the work folder, newest first, read one at a time (an id begins
    /// with its start time, so the folders' names sort by it): a caller that stops at the first it wants reads no more.
    /// </summary>
    public static IEnumerable<MigrationJournal> Newest(string workDir, int count)
    {
        if (!Directory.Exists(workDir))
        {
            yield break;
        }

        foreach (var dir in Directory.GetDirectories(workDir).Select(Path.GetFileName).OfType<string>().OrderDescending(StringComparer.Ordinal).Take(count))
        {
            MigrationJournal journal;
            try
            {
                journal = Load(workDir, dir);
            }
            catch (Exception e) when (e is PgRelocateException or JsonException or IOException)
            {
                // Not a migration folder, or one being written this instant.
                continue;
            }

            yield return journal;
        }
    }

    public StepRecord Step(string name) => Steps.First(s => s.Name == name);

    /// <summary>An output of an earlier step (null, or default, when that step is not in the journal or has not written it).</summary>
    public T? Output<T>(string step, JournalKey<T> key) => Steps.FirstOrDefault(s => s.Name == step) is { } record ? record.Get(key) : default;

    public void AddLog(string line)
    {
        lock (_lock)
        {
            Log.Add($"{DateTimeOffset.UtcNow:HH:mm:ss} {line}");
        }
    }

    /// <summary>True when the process recorded as running this migration is alive.</summary>
    public bool IsRunningElsewhere()
    {
        if (Pid is not { } pid || pid == Environment.ProcessId)
        {
            return false;
        }

        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited && File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("pgrelocate", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidOperationException)
        {
            // Gone between the look-up and the reading of its command line.
            return false;
        }
    }

    /// <summary>Writes the journal to a temporary file and renames it over the old one.</summary>
    public void Save()
    {
        lock (_lock)
        {
            var file = Path.Combine(Folder, FileName);
            var temp = file + ".tmp";
            File.WriteAllText(temp, JsonSerializer.Serialize(this, JournalJson.Default.MigrationJournal));
            File.Move(temp, file, overwrite: true);
        }
    }
}

/// <summary>
/// The journal's JSON (indented, camelCase, enums by name, nulls left out), its reading and writing generated when
/// the tool is built: worked out by reflection as the process ran, the first journal a migration wrote took 40 ms of
/// its start.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(MigrationJournal))]
internal sealed partial class JournalJson : JsonSerializerContext;
