using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Progress;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// The options a migration keeps in its journal so that <c>--resume</c> runs it the same way, and
/// <c>--max-retained-wal</c> from the command line to the options.
/// </summary>
public class MigrationOptionsTests
{
    private static readonly PgConnectionInfo Source = PgConnectionInfo.Parse("postgres://app@127.0.0.1:1/old");
    private static readonly PgConnectionInfo Target = PgConnectionInfo.Parse("postgres://app@127.0.0.1:1/new");

    [Fact]
    public void Should_Keep_The_Lock_Timeout_And_The_Retained_Wal_Limit_Across_A_Resume()
    {
        using var dir = new TempDir();
        var options = new MigrationOptions
        {
            Source = Source,
            Target = Target,
            Confirm = "new",
            Online = true,
            LockTimeout = TimeSpan.FromSeconds(7),
            MaxRetainedWal = 20_000_000_000,
        };
        var created = MigrationJournal.Create(dir.Path, MigrationJournal.NewId(), Source.ToString(), Target.ToString(), ["check"], options.ToJournal());

        var resumed = MigrationPlan.FromJournal(MigrationJournal.Load(dir.Path, created.Id), Source, Target, showSecrets: false);

        Assert.Equal(TimeSpan.FromSeconds(7), resumed.LockTimeout);
        Assert.Equal(20_000_000_000, resumed.MaxRetainedWal);
        Assert.True(resumed.Online);
    }

    [Fact]
    public void Should_Resume_A_Journal_Without_Them_With_The_Defaults()
    {
        using var dir = new TempDir();
        var created = MigrationJournal.Create(dir.Path, MigrationJournal.NewId(), Source.ToString(), Target.ToString(), ["check"], new Dictionary<string, string> { ["confirm"] = "new" });

        var resumed = MigrationPlan.FromJournal(MigrationJournal.Load(dir.Path, created.Id), Source, Target, showSecrets: false);

        Assert.Equal(Targets.TargetRequirements.DefaultLockTimeout, resumed.LockTimeout);
        Assert.Null(resumed.MaxRetainedWal);
    }

    [Theory]
    [InlineData("20GB", 20_000_000_000)]
    [InlineData("500 MB", 500_000_000)]
    [InlineData("1.5TB", 1_500_000_000_000)]
    [InlineData("64kB", 64_000)]
    [InlineData("64kb", 64_000)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("4096", 4096)]
    [InlineData("10B", 10)]
    public void Should_Read_A_Size_In_The_Units_The_Tool_Prints(string text, long bytes) =>
        Assert.Equal(bytes, Units.ParseBytes(text));

    [Theory]
    [InlineData("")]
    [InlineData("GB")]
    [InlineData("20 XB")]
    [InlineData("-5GB")]
    [InlineData("1e3GB")]
    [InlineData("twenty GB")]
    [InlineData("99999999TB")]
    public void Should_Not_Read_What_Is_Not_A_Size(string text) => Assert.Null(Units.ParseBytes(text));

    [Fact]
    public async Task Should_Refuse_Max_Retained_Wal_Without_Online_Or_Without_A_Size()
    {
        using var dir = new TempDir();
        string[] common = ["migrate", "--source", CliRunner.Url(Source), "--target", CliRunner.Url(Target), "--confirm", "new", "--workdir", dir.Path];

        var offline = await CliRunner.RunAsync([.. common, "--max-retained-wal", "20GB"], null);
        var notASize = await CliRunner.RunAsync([.. common, "--online", "--max-retained-wal", "lots"], null);

        Assert.True(offline.ExitCode == 2, offline.ToString());
        Assert.Contains("--max-retained-wal limits the WAL an online migration's replication slot holds on the source: add --online", offline.Stderr, StringComparison.Ordinal);
        Assert.True(notASize.ExitCode == 2, notASize.ToString());
        Assert.Contains("--max-retained-wal 'lots' is not a size", notASize.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }
}
