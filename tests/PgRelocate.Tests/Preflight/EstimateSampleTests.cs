using PgRelocate.Preflight;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// When the estimate's lane into the target may stop at the rate it has settled at before the target's buffers are
/// full: only when the rest of its share, even at that rate, could not take it past them and leave a second to watch
/// it there.
/// </summary>
public class EstimateSampleTests
{
    private const double Buffers = 256e6;

    [Fact]
    public void Should_Stop_A_Settled_Lane_That_Cannot_Pass_The_Buffers_Within_Its_Share()
    {
        // 50 MB/s settled over 1.5 s (75 MB sent), 4.8 s of share: at most 75 + 50 × 2.3 = 190 MB by the time a second is left.
        Assert.True(EstimateSample.OutOfReach((1.5, 75e6), TimeSpan.FromSeconds(1.5), 75e6, TimeSpan.FromSeconds(4.8), Buffers));
    }

    [Fact]
    public void Should_Go_On_With_A_Lane_That_Can_Still_Pass_The_Buffers_And_Be_Watched_There()
    {
        // 100 MB/s: 150 MB by 1.5 s, 380 MB by the time a second is left: past the buffers, its rate there to be seen.
        Assert.False(EstimateSample.OutOfReach((1.5, 150e6), TimeSpan.FromSeconds(1.5), 150e6, TimeSpan.FromSeconds(4.8), Buffers));
    }

    [Fact]
    public void Should_Not_Stop_Without_A_Window_To_Tell_The_Rate()
    {
        Assert.False(EstimateSample.OutOfReach((0, 0), TimeSpan.FromSeconds(0.2), 1e6, TimeSpan.FromSeconds(4.8), Buffers));
    }

    [Fact]
    public void Should_Count_No_Time_Left_Once_The_Share_Is_Nearly_Spent()
    {
        // 4.5 s of a 4.8 s share gone: less than the second to watch past the buffers is left, whatever the rate.
        Assert.True(EstimateSample.OutOfReach((4.5, 900e6 * 0.2), TimeSpan.FromSeconds(4.5), 200e6, TimeSpan.FromSeconds(4.8), Buffers));
    }
}
