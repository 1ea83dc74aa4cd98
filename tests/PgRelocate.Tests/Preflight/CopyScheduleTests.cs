using PgRelocate.Preflight;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// The estimate's play of the copy's schedule: a table's index builds start once its rows are in, beside the next
/// tables' rows, before any waiting rows; its ANALYZE after its last index; steps at once share the cores both servers
/// share (a lane two sessions, a build one).
/// </summary>
public class CopyScheduleTests
{
    private static (IReadOnlyList<double> Rows, IReadOnlyList<double> Indexes, double Analyze, long Bytes) Table(double rows, double[] indexes, long bytes, double analyze = 0) =>
        ([rows], indexes, analyze, bytes);

    [Fact]
    public void Should_Build_An_Early_Tables_Index_Beside_A_Later_Tables_Rows()
    {
        // A: 10 s of rows, a 1 s index; B: 2 s of rows, an 8 s index. On two shared cores both lanes run at half speed
        // until B's rows are in at 4 s (A has 8 s left); then A's lane and B's build share the cores at two thirds, both
        // ending at 16 s; then A's index, 1 s. Rows then indexes, one after the other, would be 12 + 8 = 20 s.
        var seconds = CopySchedule.Seconds([Table(10, [1], 1000), Table(2, [8], 500)], jobs: 2, indexJobs: 2, slots: 2, cores: 2);

        Assert.Equal(17, seconds, 6);
    }

    [Fact]
    public void Should_Give_A_Ready_Index_Build_The_Next_Slot_Before_Rows()
    {
        // Largest first: A (1 s of rows, a 5 s index) and B (3 s) at once; at 1 s A's index takes the free slot before
        // C's rows, which wait for B's at 3 s: all done at 6 s (C first would leave A's index to 3 to 8 s).
        var seconds = CopySchedule.Seconds([Table(1, [5], 3000), Table(3, [], 2000), Table(3, [], 1000)], jobs: 2, indexJobs: 2, slots: 2, cores: null);

        Assert.Equal(6, seconds, 6);
    }

    [Fact]
    public void Should_Share_The_Cores_Between_Lanes_As_One_Lane_Where_Two_Sessions_Fill_Them()
    {
        // Two lanes of 4 s each on two shared cores: each at half speed, both in at 8 s; with cores enough, at 4 s.
        var shared = CopySchedule.Seconds([Table(4, [], 2), Table(4, [], 1)], jobs: 2, indexJobs: 2, slots: 2, cores: 2);
        var apart = CopySchedule.Seconds([Table(4, [], 2), Table(4, [], 1)], jobs: 2, indexJobs: 2, slots: 2, cores: null);

        Assert.Equal(8, shared, 6);
        Assert.Equal(4, apart, 6);
    }

    [Fact]
    public void Should_Analyze_A_Table_After_Its_Last_Index()
    {
        // 1 s of rows; two indexes of 2 and 3 s on two builders; ANALYZE 1 s after the longer: 5 s.
        var seconds = CopySchedule.Seconds([Table(1, [2, 3], 1, analyze: 1)], jobs: 2, indexJobs: 2, slots: 2, cores: null);
        // A table without indexes is analyzed once its rows are in.
        var bare = CopySchedule.Seconds([Table(1, [], 1, analyze: 1)], jobs: 2, indexJobs: 2, slots: 2, cores: null);

        Assert.Equal(5, seconds, 6);
        Assert.Equal(2, bare, 6);
    }

    [Fact]
    public void Should_Check_Foreign_Keys_Once_Their_Tables_Are_Complete_And_Every_Tables_Rows_Are_In_Beside_The_Last_Builds()
    {
        // Cores enough. A: 10 s of rows, a 4 s index; B: 2 s of rows, a 1 s ANALYZE; C: 1 s of rows (on the lane B
        // freed, 2 to 3 s), referencing B (a 3 s check) and A (a 2 s check). C's check against B is ready at 3 s and
        // waits for A's rows (in at 10 s), then runs beside A's index; its check against A follows it on the same
        // builder once A is complete at 14 s: 10 + 3 = 13, then 14 to 16 s. Checked after everything, 14 + 3 + 2 = 19 s.
        var tables = new[] { Table(10, [4], 3000), Table(2, [], 2000, analyze: 1), Table(1, [], 1000) };
        var seconds = CopySchedule.Seconds(tables, jobs: 2, indexJobs: 2, slots: 4, cores: null, checks: [(2, 1, 3), (2, 0, 2)]);
        // Two checks of one referencing table ready at once go one after another: 10 + 3 + 2 = 15 s beside A's 4 s index.
        var together = CopySchedule.Seconds(tables, jobs: 2, indexJobs: 2, slots: 4, cores: null, checks: [(2, 1, 3), (2, 1, 2)]);
        // A check between two small tables (complete from the start) waits for the rows too, then takes the free builder.
        var small = CopySchedule.Seconds([Table(4, [5], 1)], jobs: 1, indexJobs: 2, slots: 2, cores: null, checks: [(-1, -1, 3)]);

        Assert.Equal(16, seconds, 6);
        Assert.Equal(15, together, 6);
        Assert.Equal(9, small, 6);
    }

    [Fact]
    public void Should_Predict_The_Copy_As_Scheduled()
    {
        // The first case's tables, as the estimate sees them (EstimateIndexKindsTests' measures: a lane at 100 MB/s,
        // B-trees at a million rows a second, a GIN at 10 MB/s of its weighed size, two cores both servers share).
        var measures = EstimateIndexKindsTests.Measures(weighed: null) with
        {
            Tables =
            [
                new EstimateTable("public", "accounts", 1_000_000_000, 1_000_000, ["btree"], 2_000_000_000, [0]),
                new EstimateTable("public", "events", 200_000_000, 1_000_000, ["gin"], 500_000_000, [80_000_000]),
            ],
        };

        var estimate = Estimate.Predict(measures, new EstimateOptions { Jobs = 2, IndexJobs = 2 });

        Assert.Equal(17, estimate.CopySeconds, 6);
        Assert.Contains(estimate.Basis, b => b.StartsWith("direct copy: rows and indexes 17 s as the copy schedules them", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_Restore_A_Table_As_The_Dump_Writes_It_And_End_Its_Rows_No_Sooner_Than_Its_Dump()
    {
        // The dump writes A (4 s) then B (1 s); a lane follows each from its dump's start. A's rows (2 s) are in as far
        // as written at 2 s and wait for its dump's end at 4 s; then A's index (1 s) beside B's dump and rows: done at
        // 5 s. Without the dump to wait for, 3 s; the dump and then the restore, 5 + 3 = 8 s.
        (int, double)[] feed = [(0, 4), (1, 1)];
        var following = CopySchedule.Seconds([Table(2, [1], 2000), Table(1, [], 1000)], jobs: 2, indexJobs: 2, slots: 4, cores: null, feed);
        var alone = CopySchedule.Seconds([Table(2, [1], 2000), Table(1, [], 1000)], jobs: 2, indexJobs: 2, slots: 4, cores: null);

        Assert.Equal(5, following, 6);
        Assert.Equal(3, alone, 6);
    }

    [Fact]
    public void Should_Take_The_Tables_In_The_Dumps_Order_And_Share_The_Cores_With_It()
    {
        // The dump writes the small table B first (1 s), then A (2 s). On two shared cores, the dump (pg_dump and its
        // source session) and B's lane ask for four sessions: both at half speed, 2 s. Then A's dump and lane, 2 s of
        // work each at half speed: 4 s more, 6 s in all. Largest first, as the copy takes its tables, is not what a
        // restore that follows the archive can do.
        (int, double)[] feed = [(1, 1), (0, 2)];
        var seconds = CopySchedule.Seconds([Table(2, [], 2000), Table(1, [], 1000)], jobs: 2, indexJobs: 2, slots: 4, cores: 2, feed);

        Assert.Equal(6, seconds, 6);
    }

    [Fact]
    public void Should_Predict_Migrates_Dump_And_Restore_As_The_Restore_Follows_The_Dump()
    {
        // The same tables with cores enough: pg_dump writes accounts (10 s) then events (2 s); a lane restores each as
        // it is written, accounts' B-tree (1 s) builds beside events' dump and rows, events' GIN (8 s) after its
        // rows: 20 s. With one job migrate dumps, then restores: dump 12 s + restore (rows 12 s at one lane, the
        // indexes 8 s) = 32 s.
        var measures = EstimateIndexKindsTests.Measures(weighed: null) with
        {
            SharedCores = null,
            Tables =
            [
                new EstimateTable("public", "accounts", 1_000_000_000, 1_000_000, ["btree"], 2_000_000_000, [0]),
                new EstimateTable("public", "events", 200_000_000, 1_000_000, ["gin"], 500_000_000, [80_000_000]),
            ],
        };

        var following = Estimate.Predict(measures, new EstimateOptions { Jobs = 2, IndexJobs = 2 });
        var oneJob = Estimate.Predict(measures, new EstimateOptions { Jobs = 1, IndexJobs = 2 });

        Assert.Equal(20, following.DumpRestoreSeconds, 6);
        Assert.Contains(following.Basis, b => b.StartsWith("dump + restore: dump 12 s", StringComparison.Ordinal) && b.Contains("restores while it dumps: 20 s", StringComparison.Ordinal));
        Assert.Equal(32, oneJob.DumpRestoreSeconds, 6);
    }

    [Fact]
    public void Should_Take_No_Time_For_No_Work()
    {
        Assert.Equal(0, CopySchedule.Seconds([], jobs: 2, indexJobs: 2, slots: 2, cores: 2));
    }
}
