using Npgsql;
using NpgsqlTypes;
using PgRelocate.Online;
using PgRelocate.Online.Apply;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The follow's lag is how far the target is behind: the age of the oldest source transaction handed to the lanes and
/// not committed on the target yet, not of the one being handed on. With the target far away, a lane's commit takes
/// round trips while the applier hands on the next group; the switch closed in on the hand-off's age and applied the
/// lanes' queues inside its write downtime.
/// </summary>
public class ApplierLagTests
{
    private static readonly SourceRelation Table = new(16400, "public", "t", ["id"], [true], [23], [-1]);

    [Fact]
    public async Task Should_Count_The_Lag_To_The_Oldest_Transaction_Not_Committed_On_The_Target()
    {
        var lane = new SlowLane();
        var applier = new ChangeApplier([lane], "lag_slot", new NpgsqlLogSequenceNumber(0), ApplyRoutes.From(1, []));
        var now = DateTime.UtcNow;

        await TransactionAsync(applier, 0x100, now.AddSeconds(-3));
        await applier.CommitInBackgroundAsync(CancellationToken.None);
        // The next group is handed on while the first one's commit waits on the target.
        await TransactionAsync(applier, 0x200, now.AddSeconds(-0.1));

        Assert.InRange(applier.LagSeconds(now)!.Value, 2.9, 3.1);

        lane.Release();
        await applier.CommitAsync(CancellationToken.None);

        // Everything handed on is committed: the age of the last transaction taken.
        Assert.InRange(applier.LagSeconds(now)!.Value, 0.05, 0.15);
    }

    private static async Task TransactionAsync(ChangeApplier applier, ulong lsn, DateTime commitTime)
    {
        await applier.ApplyAsync(new BeginChange(lsn, commitTime), CancellationToken.None);
        await applier.ApplyAsync(new InsertChange(Table, new RowValues([$"{lsn}"], [false])), CancellationToken.None);
        await applier.ApplyAsync(new CommitChange(lsn, lsn + 1, commitTime), CancellationToken.None);
    }

    /// <summary>A lane whose commits complete only once released, as one far from the target.</summary>
    private sealed class SlowLane : IApplyLane
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyCollection<string> ChangedTables => [];

        public bool HasOpenGroup { get; private set; }

        public void Release() => _released.TrySetResult();

        public ValueTask BeginAsync(ulong commitLsn, CancellationToken cancellationToken)
        {
            HasOpenGroup = true;
            return ValueTask.CompletedTask;
        }

        public ValueTask ApplyAsync(Change change, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask EndAsync(ulong endLsn, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public async Task CommitAsync(CancellationToken cancellationToken, NpgsqlBatchCommand? last = null) => await await StartCommitAsync(cancellationToken, last);

        public ValueTask<Task> StartCommitAsync(CancellationToken cancellationToken, NpgsqlBatchCommand? last = null)
        {
            HasOpenGroup = false;
            return ValueTask.FromResult(_released.Task);
        }

        public async ValueTask<Task> StartRunAsync(NpgsqlBatchCommand command, Task after, CancellationToken cancellationToken) =>
            await Task.FromResult(after.ContinueWith(_ => { }, TaskScheduler.Default));

        public Task StopAsync() => Task.CompletedTask;
    }
}
