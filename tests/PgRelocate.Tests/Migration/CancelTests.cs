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
    public async Task Should_Record_An_Abandoned_Migration_As_Canceled_And_Undo_Nothing_Without_Its_Source()
    {
        using var dir = new TempDir();
        var options = new MigrationOptions { Source = Source, Into = new() { Connection = Target, Confirm = "new" }, ReadOnlySource = true };
        var journal = MigrationJournal.Create(dir.Path, MigrationJournal.NewId(), Source.ToString(), Target.ToString(), OnlinePlan.StepsFor(options).Select(s => s.Name), options.ToJournal());
        journal.Status = MigrationStatus.Running;
        journal.Pid = int.MaxValue;
        journal.Step(ReadOnlySourceStep.StepName).Status = StepStatus.Done;
        journal.Step(ReadOnlySourceStep.StepName).Outputs["readOnly"] = "on";
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
