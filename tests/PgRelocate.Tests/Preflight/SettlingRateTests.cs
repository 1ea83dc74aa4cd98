using PgRelocate.Preflight;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// The estimate's rule for ending a measurement early: a rate watched long enough whose two halves agree within a
/// tenth has settled; one that changes midway, or has counted nothing, or has been watched too briefly, has not.
/// </summary>
public class SettlingRateTests
{
    private static readonly TimeSpan Least = TimeSpan.FromSeconds(3);

    [Fact]
    public void Should_Settle_A_Steady_Rate_Once_It_Has_Been_Watched_Long_Enough()
    {
        var rate = new SettlingRate(Least);

        var settledAt = Watch(rate, 10, _ => 1_000_000);

        Assert.Equal(3.0, settledAt);
    }

    [Fact]
    public void Should_Not_Settle_A_Rate_That_Halved_Early_On()
    {
        var rate = new SettlingRate(Least);

        // 2 MB/s for two seconds, then 1 MB/s: the earlier half always holds the faster part, so the halves differ by more than a tenth for ten seconds.
        var settledAt = Watch(rate, 10, s => s < 2 ? 2_000_000 : 1_000_000);

        Assert.Null(settledAt);
    }

    [Fact]
    public void Should_Not_Settle_A_Rate_That_Counted_Nothing()
    {
        var rate = new SettlingRate(Least);

        Assert.Null(Watch(rate, 10, _ => 0));
    }

    [Fact]
    public void Should_Settle_Writes_In_Small_Bursts_But_Not_A_Burst_Then_Silence()
    {
        var bursts = new SettlingRate(Least);
        var once = new SettlingRate(Least);

        // Every half second a burst of 500 kB (2 MB/s for a quarter second); against a single burst at the start and nothing after it.
        var burstsAt = Watch(bursts, 10, s => s % 0.5 < 0.25 ? 2_000_000 : 0);
        var onceAt = Watch(once, 10, s => s < 0.5 ? 4_000_000 : 0);

        Assert.NotNull(burstsAt);
        Assert.Null(onceAt);
    }

    [Fact]
    public void Should_Watch_Only_Past_Its_Warm_Up()
    {
        var plain = new SettlingRate(TimeSpan.FromSeconds(1));
        var buffers = new SettlingRate(TimeSpan.FromSeconds(1), warmUp: 4_000_000);
        var slowed = new SettlingRate(TimeSpan.FromSeconds(1), warmUp: 4_000_000);
        var slowedLater = new SettlingRate(TimeSpan.FromSeconds(1), warmUp: 4_000_000);

        // A lane at 2 MB/s: steady, slowed to 1 MB/s once its 4 MB warm-up (its target's free buffers) is written, or slowed only after 5 MB, within the window.
        var plainAt = Watch(plain, 10, _ => 2_000_000);
        var buffersAt = Watch(buffers, 10, _ => 2_000_000);
        var slowedAt = Watch(slowed, 10, s => s < 2 ? 2_000_000 : 1_000_000);
        var slowedLaterAt = Watch(slowedLater, 10, s => s < 2.5 ? 2_000_000 : 1_000_000);

        Assert.Equal(1.0, plainAt);
        Assert.Equal(3.0, buffersAt);
        Assert.Equal(3.0, slowedAt);
        Assert.Equal((8.0, 8_000_000.0), slowed.Window);
        Assert.Null(slowedLaterAt);
    }

    [Fact]
    public void Should_Have_No_Window_Before_Its_Warm_Up_Is_Over()
    {
        var rate = new SettlingRate(TimeSpan.FromSeconds(1), warmUp: 4_000_000);

        Assert.Null(Watch(rate, 1.75, _ => 2_000_000));
        Assert.Equal((0.0, 0.0), rate.Window);
    }

    /// <summary>The reading at 0.07 s is dropped (too close to the one before): kept, it would make the halves differ.</summary>
    [Fact]
    public void Should_Keep_Readings_A_Twentieth_Of_A_Second_Apart()
    {
        var rate = new SettlingRate(TimeSpan.FromSeconds(0.1));
        rate.Add(TimeSpan.FromSeconds(0.06), 60);
        rate.Add(TimeSpan.FromSeconds(0.07), 1_000);
        rate.Add(TimeSpan.FromSeconds(0.12), 120);
        rate.Add(TimeSpan.FromSeconds(0.18), 180);

        Assert.True(rate.Settled);
    }

    /// <summary>Readings every quarter second of an amount growing at <paramref name="bytesPerSecond"/>(t), for <paramref name="seconds"/>: the first moment the rate settled, or null.</summary>
    private static double? Watch(SettlingRate rate, double seconds, Func<double, double> bytesPerSecond)
    {
        double? settledAt = null;
        double amount = 0;
        for (var t = 0.25; t <= seconds + 1e-9; t += 0.25)
        {
            amount += bytesPerSecond(t - 0.25) * 0.25;
            rate.Add(TimeSpan.FromSeconds(t), amount);
            settledAt ??= rate.Settled ? Math.Round(t, 2) : null;
        }

        return settledAt;
    }
}
