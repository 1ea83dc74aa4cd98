using System.Diagnostics;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;
using PgRelocate.Online;
using PgRelocate.Progress;
using PgRelocate.Tests.Harness;
using PgRelocate.Tools;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// What `cancel` asks of the engine, without a server: a running migration's process is sent SIGTERM by the kill
/// system call; an abandoned one is recorded as canceled by the runner, whose undo needs the source.
/// (MigrateTests and OnlineMigrationTests cancel real migrations.)
/// </summary>
public class CancelTests
{
    private static readonly PgConnectionInfo Source = PgConnectionInfo.Parse("postgres://app@127.0.0.1:1/old");
    private static readonly PgConnectionInfo Target = PgConnectionInfo.Parse("postgres://app@127.0.0.1:1/new");

    [Fact]
    public async Task Should_Ask_A_Process_To_Stop_With_Sigterm()
    {
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", ["30"]) { UseShellExecute = false })!;

        Assert.True(ProcessSignals.Terminate(sleeper.Id));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await sleeper.WaitForExitAsync(timeout.Token);

        Assert.Equal(128 + 15, sleeper.ExitCode);
        Assert.False(ProcessSignals.Terminate(sleeper.Id));
    }

    [Fact]
    public async Task Should_Refuse_At_Once_To_Cancel_A_Migration_Another_User_Runs_Naming_That_User()
    {
        // The stand-in for a migration root runs (its command line names pgrelocate), cancelled by "nobody", who may
        // not signal it. Starting a process as another user takes root: elsewhere there is nothing to run this with.
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/setpriv"))
        {
            return;
        }

        using var dir = new TempDir();
        using var home = new TempDir();
        File.SetUnixFileMode(home.Path, (UnixFileMode)0x1FF);
        using var standIn = Process.Start(new ProcessStartInfo("bash", ["-c", "exec -a pgrelocate-stand-in sleep 120"]) { UseShellExecute = false })!;
        var journal = MigrationJournal.Create(dir.Path, MigrationJournal.NewId(), Source.ToString(), Target.ToString(), ["copy"], []);
        journal.Status = MigrationStatus.Running;
        journal.Pid = standIn.Id;
        journal.Save();
        await Eventually.Holds(journal.IsRunningElsewhere, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));

        Assert.True(journal.IsRunningElsewhere(), "the stand-in never ran");
        var cancel = await RunAsNobodyAsync(home.Path, "cancel", journal.Id, "--workdir", dir.Path);

        Assert.True(cancel.ExitCode == 2, cancel.ToString());
        Assert.Contains($"Migration {journal.Id} runs as root (process {standIn.Id})", cancel.Stderr, StringComparison.Ordinal);
        Assert.Contains($"run 'pgrelocate cancel {journal.Id}' as root", cancel.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Asked process", cancel.Output, StringComparison.Ordinal);
        Assert.False(standIn.HasExited);
        Assert.Equal(MigrationStatus.Running, journal.Reload().Status);
        Assert.Equal("root", ProcessSignals.Owner(standIn.Id));
        Assert.Equal(SignalOutcome.Sent, ProcessSignals.TryTerminate(standIn.Id));
        await standIn.WaitForExitAsync();
    }

    /// <summary>The tool run as the user "nobody" (uid 65534), with <paramref name="home"/> as its home.</summary>
    private static async Task<CliResult> RunAsNobodyAsync(string home, params string[] args)
    {
        var cli = CliRunner.AssemblyPath;
        var info = new ProcessStartInfo("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", .. cli.EndsWith(".dll", StringComparison.Ordinal) ? new[] { "dotnet", cli } : [cli], .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["HOME"] = home;
        info.Environment["XDG_STATE_HOME"] = home;
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await p.WaitForExitAsync(timeout.Token);
        return new CliResult(p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Should_Record_An_Abandoned_Migration_As_Canceled_And_Undo_Nothing_Without_Its_Source()
    {
        using var dir = new TempDir();
        var options = new MigrationOptions { Source = Source, Into = new() { Connection = Target, Confirm = "new" }, ReadOnlySource = true };
        var journal = MigrationJournal.Create(dir.Path, MigrationJournal.NewId(), Source.ToString(), Target.ToString(), OnlinePlan.StepsFor(options).Select(s => s.Name), options.ToJournal());
        journal.Status = MigrationStatus.Running;
        journal.Pid = int.MaxValue;
        journal.Step(ReadOnlySourceStep.StepName).Status = StepStatus.Done;
        journal.Step(ReadOnlySourceStep.StepName).Set(ReadOnlySourceStep.ReadOnly, ReadOnlyState.On);
        journal.Save();

        var runner = new MigrationRunner(OnlinePlan.StepsFor(journal), null!, NullReporter.Instance);
        await runner.CancelAbandonedAsync(journal, source: null, target: null, CancellationToken.None);

        var after = journal.Reload();
        Assert.Equal(MigrationStatus.Canceled, after.Status);
        Assert.Equal("Canceled after its process had stopped.", after.Error);
        Assert.True(ReadOnlySourceStep.LeftReadOnly(after));
        Assert.Equal(StepStatus.Done, after.Step(ReadOnlySourceStep.StepName).Status);
    }
}
