using PgRelocate.Connections;
using PgRelocate.Copy;
using PgRelocate.Targets;

namespace PgRelocate.Tests.Copy;

/// <summary>
/// The split size a copy uses: the one given always; by default 256 MB, but never splitting when both servers run
/// on this machine and it has no more than two cores per copy stream (ranges there gain nothing and cost a vacuum).
/// </summary>
public class SplitSizeTests
{
    private static CopyOptions Options(string source, string target, int jobs, long? split = null) => new()
    {
        Source = PgConnectionInfo.Parse(source),
        Into = new TargetOptions { Connection = PgConnectionInfo.Parse(target), Jobs = jobs },
        SplitTablesLargerThan = split,
        LogPath = "copy.log",
    };

    [Theory]
    [InlineData("postgres://u@127.0.0.1:5432/a", "postgres://u@localhost:5433/b")]
    [InlineData("postgres://u@[::1]:5432/a", "postgres://u@127.0.0.1:5433/b")]
    [InlineData("postgres://u@%2Fvar%2Frun%2Fpostgresql:5432/a", "postgres://u@127.0.0.1:5433/b")]
    public void Both_Servers_On_This_Machine_With_Two_Cores_A_Stream_Or_Fewer_Copy_Each_Table_In_One_Stream(string source, string target)
    {
        var few = Options(source, target, jobs: (Environment.ProcessorCount + 1) / 2);
        Assert.True(few.SharesFewCores);
        Assert.Equal(0, few.SplitSize);

        var many = Options(source, target, jobs: 1);
        Assert.Equal(Environment.ProcessorCount > 2 ? CopyOptions.DefaultSplit : 0, many.SplitSize);
    }

    [Fact]
    public void A_Remote_Server_Keeps_The_Default_Split_And_A_Given_Size_Always_Wins()
    {
        Assert.Equal(CopyOptions.DefaultSplit, Options("postgres://u@db.example.com/a", "postgres://u@127.0.0.1/b", jobs: 64).SplitSize);
        Assert.Equal(CopyOptions.DefaultSplit, Options("postgres://u@127.0.0.1/a", "postgres://u@10.0.0.5/b", jobs: 64).SplitSize);
        Assert.Equal(1024, Options("postgres://u@127.0.0.1/a", "postgres://u@127.0.0.1/b", jobs: 64, split: 1024).SplitSize);
        Assert.Equal(0, Options("postgres://u@db.example.com/a", "postgres://u@db2.example.com/b", jobs: 2, split: 0).SplitSize);
    }
}
