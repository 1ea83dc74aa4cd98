using PgRelocate.Progress;
using PgRelocate.Restore;
using PgRelocate.Runners;

namespace PgRelocate.Copy;

/// <summary>
/// The copy's last step: the foreign keys not <paramref name="validated"/> during the data phase (see <see cref="EarlyForeignKeys"/>)
/// added NOT VALID and validated side by side (<see cref="ForeignKeyValidation"/>), then pg_restore's run of those that
/// failed there and of the entries that need them (a comment on a foreign key).
/// </summary>
internal static class CopyForeignKeys
{
    public static async Task RunAsync(CopyStart start, PgRestore pgRestore, IReporter reporter, IReadOnlyList<ValidatedForeignKey> validated, List<string> warnings, CancellationToken cancellationToken)
    {
        var (options, clock, schema) = (start.Options, start.Clock, start.Schema);
        if (schema.ForeignKeys.Count == 0 && schema.AfterForeignKeys.Count == 0)
        {
            return;
        }

        var begin = clock.Now;
        var done = validated.Select(k => k.Entry.Id).ToHashSet();
        var keys = schema.ForeignKeys.Where(k => !done.Contains(k.Entry.Id)).ToList();
        reporter.Progress(new ProgressUpdate("foreign keys", done.Count, schema.ForeignKeys.Count, "foreign keys"));
        var rest = await ForeignKeyValidation.RunAsync(keys, schema.AfterForeignKeys, start.ForeignKeyJobs, options.MaintenanceWorkMem, ct => CopySessions.OpenWriterAsync(options, ct), start.Log.Write, cancellationToken);
        if (rest.Count > 0)
        {
            var list = Path.Combine(Path.GetDirectoryName(schema.Path)!, "foreign-keys.list");
            await File.WriteAllLinesAsync(list, rest.Select(e => e.ListLine), cancellationToken);
            var selection = new PgRestoreCall("foreign keys") { Archive = schema.Path, Sections = ArchiveSections.PostData, EntryList = list };
            warnings.AddRange((await pgRestore.RunStepAsync(selection, "foreign keys", start.Log.Path, cancellationToken)).Select(w => w.ToString()));
        }

        reporter.Progress(new ProgressUpdate("foreign keys", schema.ForeignKeys.Count, schema.ForeignKeys.Count, "foreign keys", Finished: true));
        clock.Add("foreign keys", $"{keys.Count} added NOT VALID, validated on {start.ForeignKeyJobs} sessions{(done.Count > 0 ? $" ({done.Count} more during the data phase)" : "")}", begin);
    }
}
