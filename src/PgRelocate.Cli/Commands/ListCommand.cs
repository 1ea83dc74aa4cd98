using System.CommandLine;
using System.Globalization;
using PgRelocate.Errors;
using PgRelocate.Migration;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate list</c>: recent migrations and their status.</summary>
internal static class ListCommand
{
    public static Command Create()
    {
        var command = new Command("list", "List recent migrations and their status.") { WorkDirOption.Option };
        command.SetAction(async (ctx, ct) =>
        {
            var every = MigrationJournal.All(WorkDirOption.Get(ctx.Parse)).Select(j => j.Settled()).ToList();
            // A database's migration in an instance migration is listed under its parent, not as a migration of its own.
            var all = every.Where(j => InstanceJournal.ParentOf(j) is not { } p || !every.Any(x => x.Id == p)).ToList();
            var children = every.Where(j => InstanceJournal.ParentOf(j) is not null).ToLookup(j => InstanceJournal.ParentOf(j)!, StringComparer.Ordinal);
            // Migrations whose process is gone may have left a slot on their source, holding WAL: read what it holds.
            var given = GivenSource();
            var orphans = new Dictionary<string, Online.OrphanedSlot>(StringComparer.Ordinal);
            foreach (var j in all)
            {
                if (await Online.OrphanedSlots.OfAsync(j, given, ct) is { } orphan)
                {
                    orphans[j.Id] = orphan;
                }
            }

            if (ctx.Json)
            {
                var listed = all.Select(j => new ListJson(
                    j.Id, j.Status.ToString(), j.CreatedAt, j.FinishedAt, j.Source, j.Target, CurrentStep(j), OrphanedSlotJson.Of(orphans.GetValueOrDefault(j.Id)),
                    InstanceJournal.IsParent(j)
                        ? [.. children[j.Id].OrderBy(c => c.Id, StringComparer.Ordinal).Select(c => new ListDatabaseJson(c.Id, c.Status.ToString(), CurrentStep(c), c.Source, c.Target))]
                        : null));
                ctx.WriteJson(listed.ToList(), c => c.ListListJson);
                return ExitCode.Success;
            }

            if (all.Count == 0)
            {
                ctx.Out.WriteLine("No migrations yet.");
                return ExitCode.Success;
            }

            var table = new Table().Border(TableBorder.Simple).AddColumns("id", "status", "started", "step", "source → target");
            foreach (var j in all)
            {
                var status = StatusOf(j) + (orphans.GetValueOrDefault(j.Id) is { } o ? o.RetainedBytes is { } held ? $", slot holds {Progress.Units.Bytes(held)}" : ", slot left" : "");
                table.AddRow(j.Id, Markup.Escape(status), j.CreatedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), Markup.Escape(CurrentStep(j)), Markup.Escape($"{j.Source} → {j.Target}"));
                foreach (var c in children[j.Id].OrderBy(c => c.Id, StringComparer.Ordinal))
                {
                    table.AddRow("  └ " + c.Id, Markup.Escape(StatusOf(c)), "", Markup.Escape(CurrentStep(c)), Markup.Escape($"{c.Source} → {c.Target}"));
                }
            }

            ctx.Out.Write(table);
            foreach (var (id, orphan) in orphans)
            {
                ctx.Out.WriteLine($"{id}: {orphan.Describe()}");
            }

            return ExitCode.Success;
        });
        return command;
    }

    /// <summary>The source given in PGRELOCATE_SOURCE, to reach the sources of migrations whose process is gone; null when unset or not a connection.</summary>
    internal static Connections.PgConnectionInfo? GivenSource()
    {
        try
        {
            return Environment.GetEnvironmentVariable(MigrateCommand.SourceVariable) is { Length: > 0 } text ? Connections.PgConnectionInfo.Parse(text) : null;
        }
        catch (UsageException)
        {
            return null;
        }
    }

    /// <summary>"Running", or "Interrupted" when the journal says running but nobody is.</summary>
    public static string StatusOf(MigrationJournal j) =>
        j.Status == MigrationStatus.Running && !j.IsRunningElsewhere() && j.Pid != Environment.ProcessId ? "Interrupted" : j.Status.ToString();

    private static string CurrentStep(MigrationJournal j) =>
        j.Steps.FirstOrDefault(s => s.Status is StepStatus.Running or StepStatus.Failed)?.Name
        ?? (j.Status == MigrationStatus.Completed ? "" : j.Steps.FirstOrDefault(s => s.Status == StepStatus.Pending)?.Name ?? "");
}
