using System.Runtime.ExceptionServices;
using PgRelocate.Errors;
using PgRelocate.Progress;

namespace PgRelocate.Migration;

/// <summary>An instance migration whose databases are switched together (online): see <see cref="MoveTogetherAsync"/>.</summary>
internal sealed partial class InstanceRunner
{
    /// <summary>
    /// Each database's migration runs, in order, until it reaches the switch's wait step (the follow); the next one
    /// starts then, so one database copies while those before it follow their source. With every one of them
    /// waiting, <paramref name="together"/> has them switch together. The first that ends without completing stops
    /// the others, each canceled as one online migration is on Ctrl-C (its slot and publication removed: a resumed
    /// one copies again). Returns the database that failed first and its exit code, or (null, Success).
    /// </summary>
    private async Task<(string? Database, ExitCode Code)> MoveTogetherAsync(MigrationOptions options, MigrationJournal parent, IReadOnlyList<(string Database, MigrationJournal Child)> children, IInstanceSwitch together, CancellationToken cancellationToken)
    {
        var names = steps.Select(s => s.Name).ToList();
        var wait = names.IndexOf(together.WaitStep);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var switched = false;
        var moving = new List<(string Database, MigrationJournal Child, StepRecord Record, Task<ExitCode> Run)>();
        ExceptionDispatchInfo? thrown = null;
        try
        {
            foreach (var (database, child) in children)
            {
                var record = parent.Step(InstanceJournal.DatabaseStep(database));
                if (Moved(parent, record, child))
                {
                    continue;
                }

                await StartAsync(options, parent, record, database, child, stop.Token);
                var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var runner = new MigrationRunner(steps, binaries, new DatabaseReporter(reporter, database))
                {
                    Starting = step =>
                    {
                        if (names.IndexOf(step.Name) >= wait)
                        {
                            waiting.TrySetResult();
                        }
                    },
                };
                var childOptions = ChildOptions(options, database, child);
                var run = Task.Run(
                    async () =>
                    {
                        FaultInjection.Scope = database;
                        return await runner.RunAsync(childOptions, child, stop.Token);
                    },
                    CancellationToken.None);
                _ = run.ContinueWith(
                    t =>
                    {
                        if (!t.IsCompletedSuccessfully || t.Result != ExitCode.Success)
                        {
                            failed.TrySetResult();
                        }
                    },
                    TaskScheduler.Default);
                moving.Add((database, child, record, run));
                await Task.WhenAny(waiting.Task, run, failed.Task);
                if (failed.Task.IsCompleted)
                {
                    break;
                }
            }

            if (!failed.Task.IsCompleted && moving.Count > 0)
            {
                // Ended: one failed, or (resumed in the middle of the switch) every one went on to complete.
                var ended = Task.WhenAny(failed.Task, Task.WhenAll(moving.Select(m => m.Run)));
                await together.SwitchTogetherAsync(options, parent, moving.Select(m => m.Child).ToList(), ended, reporter, stop.Token);
                switched = !failed.Task.IsCompleted;
            }
        }
        catch (Exception e)
        {
            thrown = ExceptionDispatchInfo.Capture(e);
        }

        // One that ended before the switch (it failed, or was canceled) stops the others; after it, each ends on its own.
        if (!switched)
        {
            await stop.CancelAsync();
        }

        (string? Database, ExitCode Code) first = (null, ExitCode.Success);
        foreach (var (database, child, record, run) in moving)
        {
            ExitCode code;
            try
            {
                code = await run;
            }
            catch (Exception e)
            {
                thrown ??= ExceptionDispatchInfo.Capture(e);
                code = ExitCode.Failed;
            }

            End(parent, record, child, code);
            // The database whose own failure stopped the rest is named, not one stopped because of it.
            if (code != ExitCode.Success && (first.Database is null || (first.Code == ExitCode.Interrupted && code != ExitCode.Interrupted)))
            {
                first = (database, code);
            }
        }

        thrown?.Throw();
        return first;
    }

    /// <summary>A database's migration as one of several running side by side: its messages and progress name the database.</summary>
    private sealed class DatabaseReporter(IReporter inner, string database) : IReporter
    {
        public void Log(LogLevel level, string message) => inner.Log(level, $"{database}: {message}");

        public void Progress(ProgressUpdate update) => inner.Progress(update with { Task = $"{database}: {update.Task}" });
    }
}
