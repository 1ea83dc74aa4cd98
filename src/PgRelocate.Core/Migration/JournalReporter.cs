using System.Text.Json;
using PgRelocate.Progress;

namespace PgRelocate.Migration;

/// <summary>
/// Passes progress on to the display and keeps it for `pgrelocate status`: log lines go into the journal,
/// the latest progress of each task under way into <c>progress.json</c> beside it (rewritten at most once a second,
/// and when the last task under way finishes).
/// </summary>
public sealed class JournalReporter(IReporter inner, MigrationJournal journal) : IReporter
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ProgressUpdate> _latest = new(StringComparer.Ordinal);
    private DateTime _lastWrite = DateTime.MinValue;

    public const string ProgressFile = "progress.json";

    /// <summary>The step being run, which the runner sets: a fault at its "progress" point fires on its first progress.</summary>
    public string? CurrentStep { get; set; }

    public void Log(LogLevel level, string message)
    {
        inner.Log(level, message);
        if (level != LogLevel.Debug)
        {
            journal.AddLog((level == LogLevel.Warning ? "warning: " : level == LogLevel.Error ? "error: " : "") + message);
        }
    }

    public void Progress(ProgressUpdate update)
    {
        inner.Progress(update);
        if (update.Done > 0 && !update.Finished && CurrentStep is { } step)
        {
            // A step's work may run during an earlier step (the restore follows the dump): its progress task is named after it.
            FaultInjection.At(step, "progress");
            FaultInjection.At(update.Task, "progress");
        }

        lock (_lock)
        {
            // Only the tasks under way are kept: a copy of thousands of tables finishes a task per table, and
            // writing every finished one each time cost time and memory that grew with the square of the tables.
            if (update.Finished)
            {
                _latest.Remove(update.Task);
            }
            else
            {
                _latest[update.Task] = update;
            }

            if (_latest.Count == 0 || DateTime.UtcNow - _lastWrite > TimeSpan.FromSeconds(1))
            {
                _lastWrite = DateTime.UtcNow;
                var path = Path.Combine(journal.Folder, ProgressFile);
                File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(_latest.Values.ToList(), ProgressJson.Default.ListProgressUpdate));
                File.Move(path + ".tmp", path, overwrite: true);
            }
        }
    }

    public static IReadOnlyList<ProgressUpdate> Read(MigrationJournal journal)
    {
        var path = Path.Combine(journal.Folder, ProgressFile);
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllText(path), ProgressJson.Default.ListProgressUpdate) ?? [] : [];
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return [];
        }
    }

}
