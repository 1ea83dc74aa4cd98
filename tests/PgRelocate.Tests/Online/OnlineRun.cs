using System.Diagnostics;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>An online migration run by the real command line in the background, with bounded waits on its journal.</summary>
internal sealed class OnlineRun
{
    internal static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(200);

    private OnlineRun(Task<CliResult> result, string workDir, Process? process)
    {
        Result = result;
        WorkDir = workDir;
        Process = process;
    }

    public Task<CliResult> Result { get; }

    public string WorkDir { get; }

    public Process? Process { get; }

    public static OnlineRun Start(PgConnectionInfo source, PgConnectionInfo target, string workDir, params string[] extra) =>
        Start(source, target, workDir, null, extra);

    /// <param name="environment">Extra environment for the process (a fault to inject).</param>
    /// <param name="extra">
    /// More options. Without an estimate option, <c>--no-estimate</c>: the estimate measures for up to ten seconds
    /// (until the source's WAL rests, which a source an application writes to never does), reads and writes samples
    /// and dumps the schema, which these tests never look at; <c>RealDatabases/OnlinePathTests</c> and
    /// <c>Preflight/EstimatePairTests</c> keep it.
    /// </param>
    public static OnlineRun Start(PgConnectionInfo source, PgConnectionInfo target, string workDir, Dictionary<string, string>? environment, params string[] extra)
    {
        Process? process = null;
        string[] estimate = extra.Any(e => e.StartsWith("--estimate", StringComparison.Ordinal) || e == "--no-estimate") ? [] : ["--no-estimate"];
        var task = CliRunner.RunAsync(
            ["migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--workdir", workDir, "--online", .. estimate, .. extra],
            environment,
            TimeSpan.FromMinutes(6),
            p => process = p,
            onTimeout: () => DoingAsync(source, target, workDir));
        return new OnlineRun(task, workDir, process);
    }

    public static OnlineRun Resume(PgConnectionInfo source, PgConnectionInfo target, string workDir, string id, params string[] extra) =>
        new(CliRunner.RunAsync(["migrate", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--workdir", workDir, "--resume", id, .. extra], null, TimeSpan.FromMinutes(6), onTimeout: () => DoingAsync(source, target, workDir)), workDir, null);

    /// <summary>What a migration that did not finish in time was doing: its last log lines, and its sessions on both sides.</summary>
    private static async Task<string> DoingAsync(PgConnectionInfo source, PgConnectionInfo target, string workDir) =>
        $"The migration's last log lines:\n{string.Join("\n", MigrationJournal.All(workDir).SingleOrDefault()?.Log.TakeLast(40) ?? [])}\n"
        + $"{await PgServer.SessionsAsync(source)}\n{await PgServer.SessionsAsync(target)}";

    public MigrationJournal Journal() => MigrationJournal.All(WorkDir).Single();

    /// <summary>Waits until the migration follows the source (its copy is done); fails if it ends first.</summary>
    public async Task<string> WaitForFollowAsync()
    {
        MigrationJournal? journal = null;
        await Eventually.True(async () =>
        {
            if (Result.IsCompleted)
            {
                Assert.Fail("The migration ended before following: " + await Result);
            }

            journal = MigrationJournal.All(WorkDir).SingleOrDefault();
            return journal is not null && journal.Step("follow").Status == StepStatus.Running && OnlineStatus.Read(journal.Folder) is { Phase: "follow" };
        }, Patience, "The migration did not reach the follow step in time.", Every);
        return journal!.Id;
    }

    /// <summary>Waits until the verification while following has passed.</summary>
    public async Task WaitForVerifiedAsync()
    {
        await Eventually.True(async () =>
        {
            if (Result.IsCompleted)
            {
                Assert.Fail("The migration ended before its verification while following: " + await Result);
            }

            return Journal().Log.Any(l => l.Contains("Verified while following", StringComparison.Ordinal));
        }, Patience, "The verification while following did not pass in time.", Every);
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds while the migration follows; fails at once if the migration ends
    /// first, and after <paramref name="timeout"/> with what the follow was doing then: its status, its last log lines
    /// and both sides' sessions with what they wait on.
    /// </summary>
    public async Task WaitWhileFollowingAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, PgConnectionInfo source, PgConnectionInfo target)
    {
        var held = await Eventually.Holds(async () =>
        {
            if (Result.IsCompleted)
            {
                Assert.Fail($"The migration ended before {what}: {await Result}");
            }

            return await condition();
        }, timeout, Every);
        if (!held)
        {
            Assert.Fail($"Not in {timeout.TotalSeconds:0} s: {what}. Follow status: {OnlineStatus.Read(Journal().Folder)?.Describe()}\n{await DoingAsync(source, target, WorkDir)}");
        }
    }

    /// <summary>Waits until the follow has applied at least <paramref name="changes"/> changes.</summary>
    public async Task WaitForChangesAsync(long changes)
    {
        var applied = await Eventually.Holds(async () =>
        {
            if (Result.IsCompleted)
            {
                Assert.Fail("The migration ended while following: " + await Result);
            }

            return OnlineStatus.Read(Journal().Folder) is { } s && s.Changes >= changes;
        }, Patience, Every);
        if (applied)
        {
            return;
        }

        Process?.Kill(entireProcessTree: true);
        Assert.Fail($"The follow did not apply {changes} changes in time: {OnlineStatus.Read(Journal().Folder)?.Describe()}\n{string.Join("\n", Journal().Log)}\n{await Result}");
    }

    /// <summary>
    /// Runs <paramref name="sql"/> on <paramref name="source"/> again and again, <paramref name="every"/> apart (the source
    /// goes on writing, as an application does), until the migration ends or three minutes have passed.
    /// </summary>
    public Task WriteUntilItEndsAsync(PgConnectionInfo source, string sql, TimeSpan every) =>
        Eventually.Holds(
            async () =>
            {
                if (Result.IsCompleted)
                {
                    return true;
                }

                await PgServer.ExecuteAsync(source, sql);
                return false;
            },
            TimeSpan.FromMinutes(3),
            every);

    /// <summary>
    /// Asks for the cutover and waits for the migration to end. A cutover refused with "ask again" (the pass before the
    /// switch waited for a lock the application or the follow held, which a loaded machine makes likelier) is asked
    /// again, as a user would, twice at most; any other refusal fails at once with its reason. (CI saw a migration
    /// follow on until its six minutes ran out after a refused cutover the test did not look at.)
    /// </summary>
    public async Task<CliResult> CutoverAsync(string id)
    {
        CliResult cutover;
        for (var asked = 1; ; asked++)
        {
            try
            {
                cutover = await CliRunner.RunAsync(["cutover", id, "--workdir", WorkDir], null, Patience);
            }
            catch (TimeoutException e)
            {
                // What the migration was doing meanwhile.
                throw new TimeoutException($"{e.Message}\nThe migration's last log lines:\n{string.Join("\n", Journal().Log.TakeLast(40))}", e);
            }

            if (cutover.ExitCode == 0 || Result.IsCompleted)
            {
                break;
            }

            if (asked < 3 && cutover.Output.Contains("ask again", StringComparison.Ordinal))
            {
                await Task.Delay(TimeSpan.FromSeconds(2));
                continue;
            }

            Process?.Kill(entireProcessTree: true);
            Assert.Fail($"The cutover was refused ({asked} asked): {cutover}\nThe migration's last log lines:\n{string.Join("\n", Journal().Log.TakeLast(40))}");
        }

        var result = await Result;
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(cutover.ExitCode == 0, cutover.ToString());
        return cutover;
    }
}
