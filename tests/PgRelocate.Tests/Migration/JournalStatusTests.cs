using PgRelocate.Migration;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// What `status` and `list` call a journal whose process is gone: the process saves how it ended before it exits,
/// so a journal read while it still said Running is read again before it is called interrupted.
/// </summary>
public class JournalStatusTests
{
    [Fact]
    public void Should_Read_Again_A_Running_Journal_Whose_Process_Ended_After_The_Read()
    {
        using var dir = new TempDir();
        var journal = MigrationJournal.Create(dir.Path, MigrationJournal.NewId(), "source", "target", ["copy"], []);
        journal.Status = MigrationStatus.Running;
        journal.Pid = int.MaxValue;
        journal.Save();
        var seen = MigrationJournal.Load(dir.Path, journal.Id);
        // The process finishes (its last save) and exits before the watcher looks for it.
        journal.Status = MigrationStatus.Completed;
        journal.Pid = null;
        journal.ExitCode = 0;
        journal.Save();

        Assert.False(seen.IsRunningElsewhere());
        Assert.Equal(MigrationStatus.Completed, seen.Settled().Status);
        Assert.Equal(0, seen.Settled().ExitCode);
    }

    [Fact]
    public void Should_Keep_A_Running_Journal_Whose_Process_Died_Without_Saving_As_Interrupted()
    {
        using var dir = new TempDir();
        var journal = MigrationJournal.Create(dir.Path, MigrationJournal.NewId(), "source", "target", ["copy"], []);
        journal.Status = MigrationStatus.Running;
        journal.Pid = int.MaxValue;
        journal.Save();

        var settled = MigrationJournal.Load(dir.Path, journal.Id).Settled();

        Assert.Equal(MigrationStatus.Running, settled.Status);
        Assert.Equal(int.MaxValue, settled.Pid);
        Assert.False(settled.IsRunningElsewhere());
    }
}
