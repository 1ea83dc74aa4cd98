using PgRelocate.Cli.Rendering;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Migration.Reports;
using PgRelocate.Progress;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate migrate --databases a,b</c> and <c>--all-databases</c>: one parent migration with a child
/// migration per database (<see cref="InstanceJournal"/>), run by the <see cref="InstanceRunner"/>.
/// </summary>
internal static class MigrateInstance
{
    /// <summary>Runs (or resumes, or starts in the background) the instance migration, then writes its report and says how it ended.</summary>
    public static async Task<ExitCode> RunAsync(CommandContext ctx, MigrationJournal parent, MigrationOptions options, string? report, bool detach, CancellationToken cancellationToken)
    {
        var workDir = Path.GetDirectoryName(parent.Folder)!;
        report = report is null ? parent.Options.GetValueOrDefault(MigrationJournal.ReportKey) : Path.GetFullPath(report);
        var databases = InstanceJournal.Databases(parent);
        var cleanup = options.Online ? MigrateCommand.CleanupLine(parent.Id, options.Source) : null;
        if (detach)
        {
            var detached = await MigrateCommand.StartDetachedAsync(ctx, parent, workDir, options.Source, options.Into.Connection, cancellationToken);
            if (cleanup is not null && !ctx.Json)
            {
                // On this terminal, not only in the background run's log.
                ctx.Out.WriteLine(cleanup);
            }

            return detached;
        }

        ctx.Reporter.Info(options.Online
            ? $"Migration {parent.Id}: {databases.Count} databases ({string.Join(", ", databases)}) of {options.Source.Display} → {options.Into.Connection.Display}, online: copied one after another, each following its source, then switched together (journal in {parent.Folder})."
            : $"Migration {parent.Id}: {databases.Count} databases ({string.Join(", ", databases)}) of {options.Source.Display} → {options.Into.Connection.Display}, one after another (journal in {parent.Folder}).");
        if (cleanup is not null)
        {
            // Said first, for the case where this machine dies: the databases' slots would keep the source's WAL without limit.
            ctx.Reporter.Info(cleanup);
        }

        ctx.Watch(options.Into);
        Interruption.Add("id", parent.Id);
        Interruption.Add("journal", parent.Folder);
        var code = await PgRelocate.Online.OnlinePlan.RunInstanceAsync(options, parent, ctx.Binaries, ctx.Reporter, cancellationToken);
        ctx.Reporter.Stop();
        if (report is not null)
        {
            MigrationReport.Write(parent, report);
        }

        Render(ctx, parent, options, report, interrupted: code == ExitCode.Interrupted);
        return code;
    }

    private static void Render(CommandContext ctx, MigrationJournal parent, MigrationOptions options, string? report, bool interrupted)
    {
        if (ctx.Json)
        {
            if (!interrupted)
            {
                ctx.Out.Profile.Width = 4096;
                Console.Out.WriteLine(MigrationReport.Json(parent));
            }

            return;
        }

        InfoCommand.RenderSteps(ctx, parent);
        if (parent.Status == MigrationStatus.Completed)
        {
            foreach (var (database, child) in InstanceJournal.Children(parent))
            {
                ctx.Out.WriteLine();
                ctx.Out.WriteLine($"{database} (migration {child.Id}): DATABASE_URL={options.Into.Connection.WithDatabase(database).ToUrl(options.ShowSecrets)}");
                foreach (var table in child.Step(Migration.Steps.CutoverStep.StepName).Tables)
                {
                    ctx.Out.WriteLine($"{table.Title}:{(table.Rows.Count == 0 ? " " + table.Note : "")}");
                    foreach (var row in table.Rows)
                    {
                        ctx.Out.WriteLine("  - " + string.Join(", ", row));
                    }
                }
            }
        }
        else
        {
            ctx.Out.WriteLine($"Migration {parent.Id} {parent.Status.ToString().ToLowerInvariant()}: {parent.Error}");
            if (NextStep.For(parent) is { } next)
            {
                ctx.Out.WriteLine(next);
            }
        }

        if (report is not null)
        {
            ctx.Out.WriteLine($"Report: {report}");
        }
    }
}
