using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration.Steps;
using PgRelocate.Progress;
using PgRelocate.Tools;

namespace PgRelocate.Migration;

/// <summary>
/// The first step of an instance migration (<see cref="InstanceRunner"/>): every database's checks, each in its
/// child's journal, then the instance's own (<see cref="IInstanceSwitch.BlockerAsync"/>), before anything changes on
/// the target; the blockers of all of them are said in one refusal.
/// </summary>
internal sealed class InstanceChecks(PgBinaries binaries, IReporter reporter, IInstanceSwitch? together)
{
    /// <summary>Every database's checks, in its child's journal; blockers of all of them are said before anything changes.</summary>
    public async Task RunAsync(MigrationOptions options, MigrationJournal parent, StepRecord record, IReadOnlyList<(string Database, MigrationJournal Child)> children, CancellationToken cancellationToken)
    {
        InstanceRunner.Begin(parent, record);
        var confirmAll = bool.TryParse(parent.Options.GetValueOrDefault(InstanceJournal.ConfirmAllKey), out var all) && all;
        var rows = new List<IReadOnlyList<string>>();
        var blocked = new List<PgRelocateException>();
        await using (var server = await Db.OpenAsync(options.Into.Connection, "target", cancellationToken))
        {
            var mayCreate = await InstanceDatabases.MayCreateAsync(server, cancellationToken);
            foreach (var (database, child) in children)
            {
                if (child.Status == MigrationStatus.Completed)
                {
                    rows.Add([database, "moved", $"migration {child.Id} completed"]);
                    continue;
                }

                var exists = await InstanceDatabases.ExistsAsync(server, database, cancellationToken);
                var ours = parent.Step(InstanceJournal.DatabaseStep(database)).Has(InstanceJournal.Created);
                if (!exists && !mayCreate)
                {
                    blocked.Add(new PgRelocateException($"database {database}: the target has no database {database} and {options.Into.Connection.User} may not create one (no CREATEDB): create it there, empty, or ask the provider for CREATEDB", ExitCode.Differences));
                    rows.Add([database, "blocked", "missing on the target, and the login role may not create it"]);
                    continue;
                }

                // A database still to create is checked on the server the target URL names (its version, rights, extensions).
                var childOptions = InstanceJournal.ChildOptions(options, database);
                if (exists && await SameDatabaseAsync(childOptions, cancellationToken) is { } same)
                {
                    blocked.Add(new PgRelocateException($"database {database}: {same.TrimEnd('.')}", ExitCode.Usage));
                    rows.Add([database, "blocked", "the source itself"]);
                    continue;
                }

                var checkOptions = exists ? childOptions : childOptions with { Into = childOptions.Into with { Connection = options.Into.Connection }, DatabaseToCreate = database };
                var holds = await CheckChildAsync(child, checkOptions, blocked, database, cancellationToken);
                if (holds is not null && exists && !ours && !confirmAll)
                {
                    blocked.Add(new PgRelocateException($"database {database}: {holds} Pass --confirm-all to replace what the target's databases hold", ExitCode.Differences));
                }

                rows.Add([database, exists ? "exists on the target" : "to create", holds is null ? child.Step(CheckStep.StepName).Summary ?? "" : holds]);
            }
        }

        var moving = children.Where(c => c.Child.Status != MigrationStatus.Completed).Select(c => c.Child).ToList();
        if (together is not null && await together.BlockerAsync(options, moving, cancellationToken) is { } blocker)
        {
            blocked.Add(new PgRelocateException(blocker, ExitCode.Differences));
        }

        record.Tables.Add(new ReportTable("Databases", ["database", "target", "checks"], rows));
        if (blocked.Count > 0)
        {
            var first = blocked[0];
            throw new PgRelocateException(
                $"{first.Message}{(blocked.Count > 1 ? $"; and {blocked.Count - 1} more: {string.Join("; ", blocked.Skip(1).Select(b => b.Message))}" : "")}. Nothing was changed on the target.",
                blocked.Max(b => b.ExitCode));
        }

        InstanceRunner.Done(parent, record, $"{children.Count} databases checked");
    }

    /// <summary>Why the target of one database is its source (the same server given as both); null when it is not.</summary>
    private static async Task<string?> SameDatabaseAsync(MigrationOptions child, CancellationToken cancellationToken)
    {
        try
        {
            await Targets.TargetPreparation.RefuseSameDatabaseAsync(child.Source, child.Into.Connection, cancellationToken);
            return null;
        }
        catch (UsageException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Runs the check step of <paramref name="child"/>, then the instance's other checks (<see cref="IInstanceSwitch.Checks"/>);
    /// returns what its target holds (the "target empty" blocker the instance's --confirm-all decides on), or null.
    /// </summary>
    private async Task<string?> CheckChildAsync(MigrationJournal child, MigrationOptions options, List<PgRelocateException> blocked, string database, CancellationToken cancellationToken)
    {
        foreach (var step in (IEnumerable<IMigrationStep>)[new CheckStep(), .. together?.Checks ?? []])
        {
            var record = child.Step(step.Name);
            InstanceRunner.Begin(child, record);
            var context = new MigrationContext { Options = options, Journal = child, Binaries = binaries, Reporter = new QuietReporter(reporter, database), Record = record };
            try
            {
                await step.RunAsync(context, cancellationToken);
                InstanceRunner.Done(child, record, record.Summary ?? "done");
                (child.Error, child.Status) = (null, MigrationStatus.Pending);
            }
            catch (Exception e) when (Failures.Operational(e) is { } failure && !cancellationToken.IsCancellationRequested)
            {
                InstanceRunner.Fail(record, failure.Message, e.ToString());
                (child.Status, child.Error, child.ExitCode) = (MigrationStatus.Failed, failure.Message, (int)failure.ExitCode);
                blocked.Add(new PgRelocateException($"database {database}: {failure.Message.TrimEnd('.')}", failure.ExitCode));
                break;
            }
            finally
            {
                child.Save();
            }
        }

        var empty = child.Step(CheckStep.StepName).Tables.FirstOrDefault(t => t.Title == "Preflight checks")?.Rows.FirstOrDefault(r => r[0] == "target empty" && r[1] == "block");
        return empty?[2];
    }

    /// <summary>
    /// A child's checks as the instance runs them: its warnings name the database, and the one saying the child's
    /// --confirm replaces its target is left out (the instance decides that, by --confirm-all).
    /// </summary>
    private sealed class QuietReporter(IReporter inner, string database) : IReporter
    {
        public void Log(LogLevel level, string message)
        {
            if (!message.Contains("--confirm allows replacing the target", StringComparison.Ordinal))
            {
                inner.Log(level, level == LogLevel.Info ? message : $"database {database}: {message}");
            }
        }

        public void Progress(ProgressUpdate update) => inner.Progress(update);
    }
}
