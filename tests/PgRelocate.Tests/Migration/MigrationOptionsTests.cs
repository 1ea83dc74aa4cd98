using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Migration;
using PgRelocate.Progress;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Migration;

/// <summary>
/// The options a migration keeps in its journal so that <c>--resume</c> runs it the same way, the rules a new
/// migration's options must follow and a resumed one's refusals (<see cref="MigrationOptionsRules"/>, no server),
/// and <c>--max-retained-wal</c> from the command line to the options.
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
            Into = new() { Connection = Target, Confirm = "new", LockTimeout = TimeSpan.FromSeconds(7) },
            Online = true,
            MaxRetainedWal = 20_000_000_000,
        };
        var created = MigrationJournal.Create(dir.Path, MigrationJournal.NewId(), Source.ToString(), Target.ToString(), ["check"], options.ToJournal());

        var resumed = MigrationPlan.FromJournal(MigrationJournal.Load(dir.Path, created.Id), Source, Target, showSecrets: false);

        Assert.Equal(TimeSpan.FromSeconds(7), resumed.Into.LockTimeout);
        Assert.Equal(20_000_000_000, resumed.MaxRetainedWal);
        Assert.True(resumed.Online);
    }

    [Fact]
    public void Should_Resume_A_Journal_Without_Them_With_The_Defaults()
    {
        using var dir = new TempDir();
        var created = MigrationJournal.Create(dir.Path, MigrationJournal.NewId(), Source.ToString(), Target.ToString(), ["check"], new Dictionary<string, string> { ["confirm"] = "new" });

        var resumed = MigrationPlan.FromJournal(MigrationJournal.Load(dir.Path, created.Id), Source, Target, showSecrets: false);

        Assert.Equal(Targets.TargetRequirements.DefaultLockTimeout, resumed.Into.LockTimeout);
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

    private static MigrationOptions Given(Func<MigrationOptions, MigrationOptions>? change = null)
    {
        var options = new MigrationOptions { Source = Source, Into = new() { Connection = Target, Confirm = "new" } };
        return change is null ? options : change(options);
    }

    private static string Refusal(MigrationOptions given) => Assert.Throws<UsageException>(() => given.Validate()).Message;

    [Fact]
    public void Should_Accept_A_Plain_Migration_With_Light_Compression_And_One_Job_At_Least()
    {
        var options = Given(o => o with { Into = o.Into with { Jobs = 0 } }).Validate();

        Assert.Equal(1, options.Into.Jobs);
        Assert.Equal(1, options.Compression);
        Assert.False(options.ReadOnlySource);
        Assert.False(options.KeepReadOnly);
        Assert.Equal(6, Given(o => o with { Compression = 6 }).Validate().Compression);
        Assert.Equal(0, Given(o => o with { Compression = 0 }).Validate().Compression);
        Assert.Equal(4, Given(o => o with { Into = o.Into with { Jobs = 4 } }).Validate().Into.Jobs);
    }

    [Fact]
    public void Should_Require_A_Confirm()
    {
        Assert.Equal("--confirm is required: pass --confirm new to let the migration replace what the target holds.", Refusal(Given(o => o with { Into = o.Into with { Confirm = "" } })));
    }

    [Fact]
    public void Should_Refuse_A_Confirm_That_Is_Not_The_Target_Database()
    {
        Assert.Equal("--confirm 'old' does not match the target database 'new'. Nothing was changed.", Refusal(Given(o => o with { Into = o.Into with { Confirm = "old" } })));
    }

    [Fact]
    public void Should_Refuse_Max_Retained_Wal_Without_Online()
    {
        Assert.StartsWith("--max-retained-wal limits the WAL an online migration's replication slot holds on the source: add --online", Refusal(Given(o => o with { MaxRetainedWal = 20_000_000_000 })), StringComparison.Ordinal);
        Assert.Equal(20_000_000_000, Given(o => o with { Online = true, MaxRetainedWal = 20_000_000_000 }).Validate().MaxRetainedWal);
    }

    [Fact]
    public void Should_Refuse_Direct_With_Via()
    {
        Assert.Equal("--direct copies between the servers with no archive: leave out --via, or --direct.", Refusal(Given(o => o with { Direct = true, Via = "s3://bucket/app.dump" })));
        Assert.True(Given(o => o with { Direct = true }).Validate().Direct);
    }

    [Theory]
    [InlineData("https://example.com/app.dump")]
    [InlineData("http://example.com/app.dump")]
    public void Should_Refuse_Via_A_Url_It_Cannot_Write_To(string via)
    {
        Assert.StartsWith("--via needs a place to write the archive", Refusal(Given(o => o with { Via = via })), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("s3://bucket/app.dump")]
    [InlineData("azure://account/container/app.dump")]
    [InlineData("/var/tmp/app.dump")]
    public void Should_Accept_Via_A_Store_Or_A_Path(string via) => Assert.Equal(via, Given(o => o with { Via = via }).Validate().Via);

    [Fact]
    public void Should_Refuse_Online_With_Via()
    {
        Assert.Equal("--online copies between the servers with no archive: leave out --via.", Refusal(Given(o => o with { Online = true, Via = "/var/tmp/app.dump" })));
    }

    [Fact]
    public void Should_Keep_The_Source_Read_Only_Through_And_After_An_Online_Cutover()
    {
        var options = Given(o => o with { Online = true }).Validate();

        Assert.True(options.ReadOnlySource);
        Assert.True(options.KeepReadOnly);
    }

    [Fact]
    public void Should_Refuse_A_Resume_Of_A_Completed_Migration()
    {
        using var dir = new TempDir();
        var journal = Journal(dir.Path);
        journal.Status = MigrationStatus.Completed;

        var e = Assert.Throws<UsageException>(() => MigrationOptionsRules.CheckResume(journal, [], Source, Target));

        Assert.Equal($"Migration {journal.Id} already completed: see 'pgrelocate info {journal.Id}'.", e.Message);
    }

    public static TheoryData<string> Fixed() => [.. MigrationOptionsRules.FixedByJournal];

    [Theory]
    [MemberData(nameof(Fixed))]
    public void Should_Refuse_On_Resume_An_Option_The_Journal_Fixes(string option)
    {
        using var dir = new TempDir();
        var journal = Journal(dir.Path);

        var e = Assert.Throws<UsageException>(() => MigrationOptionsRules.CheckResume(journal, ["--source", option, "--workdir"], Source, Target));

        Assert.Equal($"Migration {journal.Id} resumes with the options it was started with ('pgrelocate info {journal.Id}' shows them): leave out {option}, or start a new migration.", e.Message);
    }

    [Fact]
    public void Should_Refuse_On_Resume_Every_Store_Option_The_Journal_Records()
    {
        using var dir = new TempDir();
        var journal = Journal(dir.Path);
        string[] store = ["--profile", "--region", "--endpoint-url", "--provider", "--sse", "--sse-kms-key-id"];

        var e = Assert.Throws<UsageException>(() => MigrationOptionsRules.CheckResume(journal, ["--source", .. store], Source, Target));

        Assert.Equal($"Migration {journal.Id} resumes with the options it was started with ('pgrelocate info {journal.Id}' shows them): leave out {string.Join(", ", store)}, or start a new migration.", e.Message);
    }

    [Fact]
    public void Should_Refuse_On_Resume_A_Confirm_And_Name_Every_Option_Given()
    {
        using var dir = new TempDir();
        var journal = Journal(dir.Path);

        var e = Assert.Throws<UsageException>(() => MigrationOptionsRules.CheckResume(journal, ["--jobs", "--confirm", "--online"], Source, Target));

        Assert.Contains("leave out --confirm, --jobs, --online, or start a new migration.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_Resume_With_The_Connections_And_Display_Options_Given_Again()
    {
        using var dir = new TempDir();
        var journal = Journal(dir.Path);

        MigrationOptionsRules.CheckResume(journal, ["--resume", "--source", "--target", "--workdir", "--show-secrets", "--report", "--detach"], Source, Target);
    }

    [Fact]
    public void Should_Refuse_A_Resume_With_Other_Connections()
    {
        using var dir = new TempDir();
        var journal = Journal(dir.Path);
        var other = PgConnectionInfo.Parse("postgres://app@127.0.0.1:1/other");

        var toOther = Assert.Throws<UsageException>(() => MigrationOptionsRules.CheckResume(journal, [], Source, other));
        var fromOther = Assert.Throws<UsageException>(() => MigrationOptionsRules.CheckResume(journal, [], other, Target));

        Assert.Equal($"Migration {journal.Id} moves {Source} to {Target}: pass those connections to resume it.", toOther.Message);
        Assert.Equal(toOther.Message, fromOther.Message);
    }

    [Fact]
    public async Task Should_Refuse_A_Confirm_Given_To_A_Resume_Like_Any_Option_That_Would_Change_It()
    {
        using var dir = new TempDir();
        var journal = Journal(dir.Path);
        string[] resume = ["migrate", "--resume", journal.Id, "--source", CliRunner.Url(Source), "--target", CliRunner.Url(Target), "--workdir", dir.Path];

        var confirm = await CliRunner.RunAsync([.. resume, "--confirm", "otherdb"], null);
        var jobs = await CliRunner.RunAsync([.. resume, "-j", "4"], null);
        var region = await CliRunner.RunAsync([.. resume, "--region", "eu-west-1"], null);

        Assert.True(confirm.ExitCode == 2, confirm.ToString());
        Assert.Contains("leave out --confirm, or start a new migration.", confirm.Stderr, StringComparison.Ordinal);
        Assert.True(jobs.ExitCode == 2, jobs.ToString());
        Assert.Contains("leave out --jobs, or start a new migration.", jobs.Stderr, StringComparison.Ordinal);
        Assert.True(region.ExitCode == 2, region.ToString());
        Assert.Contains("leave out --region, or start a new migration.", region.Stderr, StringComparison.Ordinal);
        Assert.Equal(MigrationStatus.Pending, MigrationJournal.Load(dir.Path, journal.Id).Status);
    }

    private static MigrationJournal Journal(string workDir) =>
        MigrationJournal.Create(workDir, MigrationJournal.NewId(), Source.ToString(), Target.ToString(), ["check"], Given().ToJournal());
}
