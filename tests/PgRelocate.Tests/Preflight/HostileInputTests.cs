using System.Diagnostics;
using System.Net.Sockets;
using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Tests.Harness;
using PgRelocate.Tools;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// What a hostile operator tried: writing over a device, FIFO or socket; a manifest of an unknown version; a
/// malformed %-escape in a URL's password; a --pg-bin folder that cannot serve.
/// </summary>
public class HostileInputTests(PgServer server) : IClassFixture<PgServer>
{
    private static void Run(string program, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(program, args) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    /// <summary>The file type as stat(1) names it ("character special file", "fifo", "socket", "regular file").</summary>
    private static string TypeOf(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("stat", ["-c", "%F", path]) { UseShellExecute = false, RedirectStandardOutput = true })!;
        var text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return text;
    }

    [SkippableFact]
    public async Task Should_Refuse_To_Dump_Over_A_Device_Node_Even_With_Force()
    {
        Skip.IfNot(Environment.UserName == "root", "making a device node needs root");
        var source = await server.CreateDatabaseAsync("dev");
        using var dir = new TempDir();
        // A device node of our own (the same device as /dev/full), so nothing outside the test is at risk.
        var device = Path.Combine(dir.Path, "full");
        Run("mknod", device, "c", "1", "7");

        var result = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", device, "--force");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("is a character device, not a regular file", result.Output, StringComparison.Ordinal);
        Assert.Equal("character special file", TypeOf(device));
        Assert.False(File.Exists(device + ".partial"));
        Assert.False(File.Exists(device + DumpManifest.Suffix));
    }

    [Fact]
    public async Task Should_Refuse_A_Fifo_As_The_Migration_Report_And_A_Socket_As_The_Settings_File()
    {
        var db = await server.CreateDatabaseAsync("out");
        using var dir = new TempDir();
        var fifo = Path.Combine(dir.Path, "report.html");
        Run("mkfifo", fifo);
        var socketPath = Path.Combine(dir.Path, "settings.csv");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));

        var migrate = await CliRunner.RunAsync(["migrate", "--source", CliRunner.Url(db), "--target", "postgres://nobody@127.0.0.1:1/none", "--confirm", "none", "--workdir", dir.Path, "--report", fifo], null, TimeSpan.FromSeconds(60));
        var settings = await CliRunner.RunAsync(["settings", "capture", "--db", CliRunner.Url(db), "-o", socketPath], null, TimeSpan.FromSeconds(60));

        Assert.True(migrate.ExitCode == 2, migrate.ToString());
        Assert.Contains("--report", migrate.Output, StringComparison.Ordinal);
        Assert.Contains("is a FIFO, not a regular file", migrate.Output, StringComparison.Ordinal);
        Assert.Equal("fifo", TypeOf(fifo));
        Assert.True(settings.ExitCode == 2, settings.ToString());
        Assert.Contains("is a socket, not a regular file", settings.Output, StringComparison.Ordinal);
        Assert.Equal("socket", TypeOf(socketPath));
    }

    [Fact]
    public void Should_Refuse_A_Manifest_Of_An_Unknown_Version()
    {
        var manifest = new DumpManifest
        {
            Source = "db:5432/app",
            SourceServerVersion = "15.1",
            DatabaseSizeBytes = 1,
            PgDumpVersion = "15.1",
            ArchiveBytes = 1,
            Sha256 = new string('0', 64),
            StartedAt = DateTimeOffset.UnixEpoch,
            FinishedAt = DateTimeOffset.UnixEpoch,
            Extensions = [],
            Tables = [],
        };
        var json = manifest.ToJson();
        Assert.Contains("\"manifestVersion\": 1,", json, StringComparison.Ordinal);

        var e = Assert.Throws<UsageException>(() => DumpManifest.FromJson(json.Replace("\"manifestVersion\": 1,", "\"manifestVersion\": 99,", StringComparison.Ordinal), "app.dump.manifest.json"));

        Assert.Contains("manifestVersion 99", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, DumpManifest.FromJson(json, "app.dump.manifest.json").ManifestVersion);
    }

    [Theory]
    [InlineData("postgres://app:%zz@db.example.com/app")]
    [InlineData("postgres://app:pass%@db.example.com/app")]
    [InlineData("postgres://app:pass%4@db.example.com/app")]
    public void Should_Call_A_Malformed_Escape_In_The_Password_A_Malformed_Url(string url)
    {
        var e = Assert.Throws<UsageException>(() => PgConnectionInfo.Parse(url, new Dictionary<string, string?>()));

        Assert.Contains("malformed %-escape", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("pass", e.Message, StringComparison.Ordinal);
        Assert.Equal("p%s", PgConnectionInfo.Parse("postgres://app:p%25s@db.example.com/app", new Dictionary<string, string?>()).ToNpgsqlConnectionString().Split(';').Single(p => p.StartsWith("Password=", StringComparison.Ordinal))["Password=".Length..]);
    }

    [Fact]
    public void Should_Refuse_A_Pg_Bin_Folder_Without_Programs_Or_With_Ones_Too_Old()
    {
        using var empty = new TempDir();
        using var old = new TempDir();
        File.CreateSymbolicLink(Path.Combine(old.Path, "pg_dump"), "/usr/lib/postgresql/15/bin/pg_dump");
        File.CreateSymbolicLink(Path.Combine(old.Path, "pg_restore"), "/usr/lib/postgresql/15/bin/pg_restore");

        var none = Assert.Throws<UsageException>(() => new PgBinaries(empty.Path).PgDumpFor(15));
        var tooOld = Assert.Throws<UsageException>(() => new PgBinaries(old.Path).PgDumpFor(99));
        var restore = Assert.Throws<UsageException>(() => new PgBinaries(old.Path).PgRestoreFor(99, 99));

        Assert.Contains("holds no pg_dump or pg_restore", none.Message, StringComparison.Ordinal);
        Assert.Contains("too old", tooOld.Message, StringComparison.Ordinal);
        Assert.Contains("too old", restore.Message, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(old.Path, "pg_dump"), new PgBinaries(old.Path).PgDumpFor(15).Path);
    }
}
