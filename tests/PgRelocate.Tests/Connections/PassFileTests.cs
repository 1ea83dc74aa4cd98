using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Connections;

/// <summary>
/// A password file the group or others may read is ignored by libpq, and so by pg_dump and pg_restore: the
/// tool's own sessions ignore it too, and where the password was needed the error names the file and its mode.
/// </summary>
public sealed class PassFileTests(PgServer server) : IClassFixture<PgServer>
{
    [Fact]
    public async Task Should_Ignore_A_Password_File_Others_May_Read_And_Say_So()
    {
        var db = await server.CreateDatabaseAsync("pgpass");
        using var home = new TempDir();
        var passFile = WritePassFile(home, db, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using var dir = new TempDir();

        var dump = await CliRunner.RunAsync(["dump", "--source", UrlWithoutPassword(db), "--to", dir.File("app.dump")], Home(home));

        Assert.True(dump.ExitCode == 1, dump.ToString());
        Assert.Contains($"{passFile} is ignored: its mode must be 0600", dump.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("no password supplied", dump.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("app.dump")));

        File.SetUnixFileMode(passFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var again = await CliRunner.RunAsync(["dump", "--source", UrlWithoutPassword(db), "--to", dir.File("app.dump")], Home(home));

        Assert.True(again.ExitCode == 0, again.ToString());
    }

    [Fact]
    public void Should_Leave_Out_The_Password_Of_A_File_Others_May_Read_As_Libpq_Does()
    {
        using var home = new TempDir();
        var path = Path.Combine(home.Path, ".pgpass");
        File.WriteAllText(path, "db.example.com:5432:app:alice:secret\n");
        var env = new Dictionary<string, string?> { ["HOME"] = home.Path };

        foreach (var mode in new[] { UnixFileMode.GroupRead, UnixFileMode.OtherRead, UnixFileMode.GroupExecute, UnixFileMode.OtherWrite })
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | mode);
            var info = PgConnectionInfo.Parse("postgres://alice@db.example.com:5432/app", env);
            Assert.False(info.HasPassword, mode.ToString());
            Assert.Null(new NpgsqlConnectionStringBuilder(info.ToNpgsqlConnectionString()).Password);
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.True(PgConnectionInfo.Parse("postgres://alice@db.example.com:5432/app", env).HasPassword);
    }

    private static string WritePassFile(TempDir home, PgConnectionInfo db, UnixFileMode mode)
    {
        var password = new NpgsqlConnectionStringBuilder(db.ToNpgsqlConnectionString()).Password!;
        var path = home.File(".pgpass");
        File.WriteAllText(path, $"*:{db.Port}:*:{db.User}:{password}\n");
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private static string UrlWithoutPassword(PgConnectionInfo db) => $"postgres://{db.User}@{db.Host}:{db.Port}/{db.Database}";

    private static Dictionary<string, string> Home(TempDir home) => new() { ["HOME"] = home.Path };
}
