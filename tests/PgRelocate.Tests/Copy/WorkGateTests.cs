using PgRelocate.Copy;

namespace PgRelocate.Tests.Copy;

/// <summary>The slots shared by COPY streams and index builds: index builds go first, nothing is lost.</summary>
public class WorkGateTests
{
    [Fact]
    public async Task Should_Give_A_Freed_Slot_To_A_Waiting_Index_Build_Before_A_Copy_Stream()
    {
        var gate = new WorkGate(slots: 1, priorityWorkers: 1);
        var held = await gate.EnterAsync(priority: false, CancellationToken.None);
        var copy = gate.EnterAsync(priority: false, CancellationToken.None);
        var index = gate.EnterAsync(priority: true, CancellationToken.None);

        held.Dispose();

        var indexSlot = await index.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(copy.IsCompleted);
        indexSlot.Dispose();
        (await copy.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
    }

    [Fact]
    public async Task Should_Keep_A_Slot_For_Announced_Index_Builds()
    {
        var gate = new WorkGate(slots: 2, priorityWorkers: 1);
        gate.Expect(1);

        var first = await gate.EnterAsync(priority: false, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        var second = gate.EnterAsync(priority: false, CancellationToken.None);
        Assert.False(second.IsCompleted);

        var index = await gate.EnterAsync(priority: true, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        index.Dispose();
        (await second.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        first.Dispose();
    }

    [Fact]
    public async Task Should_Not_Lose_The_Slot_Of_A_Cancelled_Waiter()
    {
        var gate = new WorkGate(slots: 1, priorityWorkers: 1);
        var held = await gate.EnterAsync(priority: false, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = gate.EnterAsync(priority: true, cancel.Token);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        held.Dispose();

        (await gate.EnterAsync(priority: false, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
    }

    [Fact]
    public async Task Should_Let_Light_Work_Pass_Freely_Until_Other_Work_Holds_A_Slot()
    {
        var gate = new WorkGate(slots: 1, priorityWorkers: 1);
        var light = Enumerable.Range(0, 4).Select(i => gate.EnterAsync(priority: i % 2 == 0, CancellationToken.None, light: true)).ToList();
        var leases = await Task.WhenAll(light).WaitAsync(TimeSpan.FromSeconds(5));

        // Heavy work still gets the slot, the light work already in notwithstanding.
        var heavy = await gate.EnterAsync(priority: false, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        var lightBeside = gate.EnterAsync(priority: false, CancellationToken.None, light: true);
        Assert.False(lightBeside.IsCompleted);

        heavy.Dispose();
        (await lightBeside.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        foreach (var lease in leases)
        {
            lease.Dispose();
        }

        (await gate.EnterAsync(priority: false, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
    }
}
