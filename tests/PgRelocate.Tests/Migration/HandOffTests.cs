using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Progress;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// What one step hands to a later one (<see cref="MigrationContext.HandOff{T}"/>): taken by type, and, when no
/// step took it, disposed by the runner before it undoes anything. No server: the runner's ending is run alone.
/// </summary>
public class HandOffTests
{
    private static readonly PgConnectionInfo Source = PgConnectionInfo.Parse("postgres://app@127.0.0.1:1/old");
    private static readonly PgConnectionInfo Target = PgConnectionInfo.Parse("postgres://app@127.0.0.1:1/new");

    [Fact]
    public void Should_Give_What_Was_Handed_Off_To_The_Step_That_Takes_It_Once()
    {
        using var dir = new TempDir();
        var context = ContextFor(dir.Path, "undoable");
        var session = new Session([]);

        context.HandOff(session);

        Assert.Null(context.TakeHandOff<Restore>());
        Assert.Same(session, context.TakeHandOff<Session>());
        Assert.Null(context.TakeHandOff<Session>());
    }

    [Fact]
    public async Task Should_Dispose_What_No_Step_Took_Before_Undoing_Anything()
    {
        using var dir = new TempDir();
        var events = new List<string>();
        var step = new UndoableStep(events);
        var context = ContextFor(dir.Path, step.Name);
        context.Journal.Step(step.Name).Status = StepStatus.Done;
        context.HandOff(new Restore(events));
        context.HandOff(new Taken(events));
        context.HandOff(new Session(events));
        Assert.NotNull(context.TakeHandOff<Taken>());

        await new MigrationRunner([step], null!, NullReporter.Instance).UndoAsync(context, success: false);

        // Last handed, first closed; the one a step took is that step's to dispose, not the runner's.
        Assert.Equal(["disposed Session", "disposed Restore", "undone"], events);
    }

    [Fact]
    public async Task Should_Dispose_What_No_Step_Took_When_The_Migration_Succeeds_Too()
    {
        using var dir = new TempDir();
        var events = new List<string>();
        var step = new UndoableStep(events);
        var context = ContextFor(dir.Path, step.Name);
        context.HandOff(new Session(events));

        await new MigrationRunner([step], null!, NullReporter.Instance).UndoAsync(context, success: true);

        Assert.Equal(["disposed Session"], events);
    }

    private static MigrationContext ContextFor(string workDir, string step)
    {
        var options = new MigrationOptions { Source = Source, Into = new() { Connection = Target, Confirm = "new" } };
        var journal = MigrationJournal.Create(workDir, MigrationJournal.NewId(), Source.ToString(), Target.ToString(), [step], options.ToJournal());
        return new MigrationContext { Options = options, Journal = journal, Binaries = null!, Reporter = NullReporter.Instance };
    }

    private abstract class Recorded(List<string> events) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            events.Add("disposed " + GetType().Name);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Restore(List<string> events) : Recorded(events);

    private sealed class Session(List<string> events) : Recorded(events);

    private sealed class Taken(List<string> events) : Recorded(events);

    /// <summary>A step whose undo records that it ran, after whatever was disposed before it.</summary>
    private sealed class UndoableStep(List<string> events) : ICompensatingStep
    {
        public string Name => "undoable";

        public string? SkipReason(MigrationOptions options) => null;

        public bool KeepOnSuccess(MigrationOptions options) => true;

        public Task RunAsync(MigrationContext context, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task UndoAsync(MigrationContext context, CancellationToken cancellationToken)
        {
            events.Add("undone");
            return Task.CompletedTask;
        }
    }
}
