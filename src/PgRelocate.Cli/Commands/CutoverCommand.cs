using System.CommandLine;
using System.Globalization;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Online.Fallback;
using PgRelocate.Online.Steps;
using PgRelocate.Progress;

namespace PgRelocate.Cli.Commands;

/// <summary>
/// <c>pgrelocate cutover ID</c>: asks the process following an online migration to switch now, from any
/// terminal, and waits until it has: prints the measured write downtime and the new DATABASE_URL.
/// </summary>
internal static class CutoverCommand
{
    private static readonly Argument<string> Id = new("id") { Description = "The online migration's id." };
    private static readonly Option<int> Wait = WaitOption.Option;

    public static Command Create()
    {
        var command = new Command("cutover", "Switch an online migration now: the source becomes read-only, its last changes are applied, the target takes over. Waits for the switch to finish (up to --wait seconds) and prints the measured write downtime.") { Id, Wait, WorkDirOption.Option, PgBouncerCliOptions.Admin, PgBouncerCliOptions.Ini, PgBouncerCliOptions.Database, PgBouncerCliOptions.MaxPause };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<ExitCode> RunAsync(CommandContext ctx, CancellationToken cancellationToken)
    {
        var workDir = WorkDirOption.Get(ctx.Parse);
        var id = ctx.Parse.GetValue(Id)!;
        var journal = MigrationJournal.Load(workDir, id);
        CutoverRequest.CheckSwitchable(journal);
        var instance = InstanceJournal.IsParent(journal);

        if (PgBouncerCliOptions.Get(ctx, Connections.PgConnectionInfo.Parse(journal.Source)) is { } pgbouncer)
        {
            if (instance || journal.Options.ContainsKey("pgbouncer"))
            {
                throw new UsageException(instance
                    ? $"Migration {id} moves several databases: --pgbouncer repoints one database's entry."
                    : $"Migration {id} was started with --pgbouncer: its cutover switches behind that PgBouncer already; leave the option out.");
            }

            if (pgbouncer.IniFile.Length == 0)
            {
                throw new UsageException("--pgbouncer needs --pgbouncer-ini FILE, the configuration file whose entry the cutover repoints at the target.");
            }

            // Checked here, before the request: a refusal changes nothing.
            ctx.Reporter.Info(await PgRelocate.Poolers.PgBouncerChecks.RunAsync(pgbouncer, Connections.PgConnectionInfo.Parse(journal.Source), null, ctx.Binaries, cancellationToken));
            CutoverRequest.Write(journal.Folder, pgbouncer);
        }
        else
        {
            CutoverRequest.Write(journal.Folder);
        }
        ctx.Reporter.Info($"Cutover of migration {id} requested; waiting for it to switch.");
        journal = await CutoverRequest.AwaitSwitchAsync(journal, TimeSpan.FromSeconds(Math.Max(1, ctx.Parse.GetValue(Wait))), cancellationToken);

        if (instance)
        {
            return Instance(ctx, journal);
        }

        var downtime = journal.Output(OnlineCutoverStep.StepName, OnlineCutoverStep.WriteDowntime);
        var pause = journal.Output(OnlineCutoverStep.StepName, OnlineCutoverStep.ApplicationPause);
        if (ctx.Json)
        {
            ctx.WriteJson(new CutoverJson(id, journal.Status.ToString(), downtime?.TotalSeconds, journal.Target, journal.Error, pause?.TotalSeconds), c => c.CutoverJson);
        }

        if (journal.Status == MigrationStatus.Completed || FallbackRequest.Following(journal))
        {
            if (!ctx.Json)
            {
                ctx.Out.WriteLine(pause is null
                    ? $"Migration {id} switched: writes were refused for {Seconds(downtime)}s."
                    : $"Migration {id} switched behind PgBouncer: the application's queries waited {Seconds(pause)}s there, and its entry points at the target (the source was read-only for {Seconds(downtime)}s).");
                ctx.Out.WriteLine($"DATABASE_URL={journal.Target}");
                foreach (var row in journal.Step(Migration.Steps.CutoverStep.StepName).Tables.FirstOrDefault(t => t.Title == "Applications to repoint")?.Rows ?? [])
                {
                    ctx.Out.WriteLine("  repoint: " + string.Join(", ", row));
                }

                RollbackCommand.SayWayBack(ctx, journal);
            }

            return ExitCode.Success;
        }

        if (journal.Status == MigrationStatus.Running)
        {
            throw new PgRelocateException($"Migration {id} has not switched yet: the request stays; watch it with 'pgrelocate status {id}'.");
        }

        throw new PgRelocateException($"Migration {id} {journal.Status.ToString().ToLowerInvariant()}: {journal.Error}", (ExitCode)(journal.ExitCode ?? (int)ExitCode.Failed));
    }

    /// <summary>How an instance migration's switch ended: each database's write downtime and DATABASE_URL.</summary>
    private static ExitCode Instance(CommandContext ctx, MigrationJournal parent)
    {
        var children = InstanceJournal.Children(parent);
        double? Downtime(MigrationJournal child) => child.Output(OnlineCutoverStep.StepName, OnlineCutoverStep.WriteDowntime)?.TotalSeconds;
        if (ctx.Json)
        {
            ctx.WriteJson(new CutoverInstanceJson(
                parent.Id,
                parent.Status.ToString(),
                parent.Error,
                [.. children.Select(c => new CutoverDatabaseJson(c.Database, c.Child.Id, c.Child.Status.ToString(), Downtime(c.Child), c.Child.Target, c.Child.Error))]), c => c.CutoverInstanceJson);
        }
        else
        {
            foreach (var (database, child) in children)
            {
                ctx.Out.WriteLine(child.Status == MigrationStatus.Completed
                    ? $"{database} (migration {child.Id}) switched: writes were refused for {Downtime(child):0.000}s. DATABASE_URL={child.Target}"
                    : $"{database} (migration {child.Id}): {child.Status.ToString().ToLowerInvariant()}{(child.Error is null ? "" : ": " + child.Error)}");
            }
        }

        return parent.Status switch
        {
            MigrationStatus.Completed => ExitCode.Success,
            MigrationStatus.Running => throw new PgRelocateException($"Migration {parent.Id} has not switched every database yet: the request stays; watch it with 'pgrelocate status {parent.Id}'."),
            _ => throw new PgRelocateException($"Migration {parent.Id} {parent.Status.ToString().ToLowerInvariant()}: {parent.Error}", (ExitCode)(parent.ExitCode ?? (int)ExitCode.Failed)),
        };
    }

    /// <summary>A duration as the journal keeps it, in seconds to the millisecond.</summary>
    private static string Seconds(TimeSpan? span) => span?.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture) ?? "";
}
