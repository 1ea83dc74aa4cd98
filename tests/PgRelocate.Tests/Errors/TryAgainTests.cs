using PgRelocate.Errors;

namespace PgRelocate.Tests.Errors;

/// <summary>The one loop that tries again briefly, and the one rule of what is worth it. No server.</summary>
public sealed class TryAgainTests
{
    [Fact]
    public async Task Should_Try_Again_While_The_Failure_Is_Accepted_And_Return_The_First_Success()
    {
        var tries = 0;

        var result = await TryAgain.TimesAsync(5, e => e is TimeoutException, _ => ++tries < 3 ? throw new TimeoutException() : Task.FromResult(tries), CancellationToken.None, TimeSpan.Zero);

        Assert.Equal(3, result);
        Assert.Equal(3, tries);
    }

    [Fact]
    public async Task Should_Let_The_Last_Failure_Stand_Once_The_Tries_Are_Spent()
    {
        var tries = 0;

        await Assert.ThrowsAsync<TimeoutException>(() => TryAgain.TimesAsync(4, _ => true, _ => { tries++; throw new TimeoutException(); }, CancellationToken.None, TimeSpan.Zero));

        Assert.Equal(4, tries);
    }

    [Fact]
    public async Task Should_Not_Try_Again_A_Failure_It_Was_Not_Told_To()
    {
        var tries = 0;

        await Assert.ThrowsAsync<InvalidOperationException>(() => TryAgain.ForAsync(TimeSpan.FromMinutes(1), e => e is TimeoutException, _ => { tries++; throw new InvalidOperationException(); }, CancellationToken.None));

        Assert.Equal(1, tries);
    }

    [Fact]
    public async Task Should_Try_Once_When_Given_No_Time()
    {
        var tries = 0;

        await Assert.ThrowsAsync<TimeoutException>(() => TryAgain.ForAsync(TimeSpan.Zero, _ => true, _ => { tries++; throw new TimeoutException(); }, CancellationToken.None));

        Assert.Equal(1, tries);
    }

    [Fact]
    public async Task Should_Pause_Before_The_First_Try_When_Told_The_Failure_Was_Met_Already()
    {
        using var cancel = new CancellationTokenSource();
        var tries = 0;
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => TryAgain.ForAsync(TimeSpan.FromMinutes(1), _ => true, _ => Task.FromResult(++tries), cancel.Token, pauseFirst: true));

        Assert.Equal(0, tries);
    }

    [Fact]
    public async Task Should_Not_Try_Again_Once_Cancelled()
    {
        using var cancel = new CancellationTokenSource();
        var tries = 0;

        await Assert.ThrowsAsync<TimeoutException>(() => TryAgain.TimesAsync(10, _ => true, _ => { tries++; cancel.Cancel(); throw new TimeoutException(); }, cancel.Token));

        Assert.Equal(1, tries);
    }

    [Fact]
    public void Should_Judge_A_Store_Request_Without_Answer_Worth_Trying_Again_And_A_Cancellation_Not()
    {
        Assert.True(Transience.IsTransient(new HttpRequestException("no answer")));
        Assert.True(Transience.IsTransient(new IOException("reset")));
        Assert.False(Transience.IsTransient(new OperationCanceledException()));
        Assert.False(Transience.IsTransient(new TaskCanceledException("timed out", new TimeoutException())));
        Assert.False(Transience.IsTransient(new PgRelocateException("expired", ExitCode.Failed)));
        Assert.True(Transience.IsTransient(new PgRelocateException("throttled", ExitCode.Failed) { IsTransient = true }));
    }

    [Theory]
    [InlineData("53300", false, true)]
    [InlineData("08006", true, true)]
    [InlineData("57P01", true, true)]
    [InlineData("57P02", false, true)]
    [InlineData("28P01", false, false)]
    [InlineData("42501", true, false)]
    public void Should_Judge_A_Described_Server_Error_By_The_One_Rule(string sqlState, bool connected, bool transient)
    {
        var e = new Npgsql.PostgresException("message", "FATAL", "FATAL", sqlState);

        var described = PgRelocate.Connections.Db.Describe(e, null, "source", connected);

        Assert.Equal(transient, described.IsTransient);
        Assert.Equal(Transience.IsTransientState(sqlState), Transience.IsTransient(described));
    }
}
