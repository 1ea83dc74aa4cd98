using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Tests.Connections;

public class PgConnectionInfoTests
{
    private static readonly Dictionary<string, string?> NoEnv = new() { ["HOME"] = "/nonexistent" };

    [Fact]
    public void Should_Parse_A_Url_With_Every_Part()
    {
        var c = PgConnectionInfo.Parse("postgres://alice:s%40cret@db.example.com:6543/app_prod?sslmode=require&application_name=web", NoEnv);

        Assert.Equal("alice", c.User);
        Assert.Equal("db.example.com", c.Host);
        Assert.Equal(6543, c.Port);
        Assert.Equal("app_prod", c.Database);
        Assert.Equal("require", c.SslMode);
        Assert.Equal("web", c.ApplicationName);
        Assert.Equal("s@cret", c.ToLibpqEnvironment()["PGPASSWORD"]);
    }

    [Theory]
    [InlineData("postgres://u@127.0.0.1:5432/a", true)]
    [InlineData("postgres://u@127.0.0.2/a", true)]
    [InlineData("postgres://u@LocalHost/a", true)]
    [InlineData("postgres://u@[::1]:5432/a", true)]
    [InlineData("postgres://u@%2Fvar%2Frun%2Fpostgresql/a", true)]
    [InlineData("postgres://u@db.example.com/a", false)]
    [InlineData("postgres://u@10.0.0.5/a", false)]
    [InlineData("postgres://u@localhost.example.com/a", false)]
    public void A_Server_Is_Local_Over_A_Socket_As_Localhost_Or_At_A_Loopback_Address(string url, bool local)
    {
        Assert.Equal(local, PgConnectionInfo.Parse(url, NoEnv).IsLocal);
    }

    [Fact]
    public void Should_Redact_The_Password_In_Every_Rendering()
    {
        var c = PgConnectionInfo.Parse("postgresql://alice:hunter2hunter2@h:5432/d", NoEnv);

        Assert.Equal("postgres://alice:***@h:5432/d", c.ToString());
        Assert.DoesNotContain("hunter2", c.Display, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", c.ToUrl(showPassword: false), StringComparison.Ordinal);
        Assert.Contains("hunter2hunter2", c.ToUrl(showPassword: true), StringComparison.Ordinal);
        Assert.Equal("x *** y", c.Scrub("x hunter2hunter2 y"));
    }

    [Fact]
    public void Should_Parse_A_Keyword_String_With_Quotes()
    {
        var c = PgConnectionInfo.Parse(@"host=10.0.0.5 port=5433 dbname='my db' user=bob password='it\'s' sslmode=disable", NoEnv);

        Assert.Equal("10.0.0.5", c.Host);
        Assert.Equal(5433, c.Port);
        Assert.Equal("my db", c.Database);
        Assert.Equal("it's", c.ToLibpqEnvironment()["PGPASSWORD"]);
    }

    [Fact]
    public void Should_Take_A_Socket_Directory_From_The_Query()
    {
        var c = PgConnectionInfo.Parse("postgres://bob@/app?host=/var/run/postgresql&port=5433", NoEnv);

        Assert.True(c.IsUnixSocket);
        Assert.Equal("/var/run/postgresql", c.Host);
        Assert.Equal(5433, c.Port);
    }

    [Fact]
    public void Should_Fall_Back_On_The_Environment()
    {
        var env = new Dictionary<string, string?> { ["PGHOST"] = "envhost", ["PGUSER"] = "envuser", ["PGPASSWORD"] = "envpass", ["PGDATABASE"] = "envdb", ["HOME"] = "/nonexistent" };

        var c = PgConnectionInfo.Parse("postgres:///", env);

        Assert.Equal("envhost", c.Host);
        Assert.Equal("envuser", c.User);
        Assert.Equal("envdb", c.Database);
        Assert.True(c.HasPassword);
    }

    [Fact]
    public void Should_Read_The_Password_File()
    {
        using var dir = new Harness.TempDir();
        var file = dir.File("pgpass");
        File.WriteAllText(file, "# comment\nother:5432:*:bob:nope\ndbhost:*:app:bob:fr\\:om-file\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var c = PgConnectionInfo.Parse("postgres://bob@dbhost:5432/app", new Dictionary<string, string?> { ["PGPASSFILE"] = file });

        Assert.Equal("fr:om-file", c.ToLibpqEnvironment()["PGPASSWORD"]);
    }

    [Fact]
    public void Should_Strip_Typographic_Quotes()
    {
        var c = PgConnectionInfo.Parse("“postgres://u:p@h:1/d”", NoEnv);

        Assert.Equal("h", c.Host);
    }

    [Theory]
    [InlineData("mysql://u:p@h/d")]
    [InlineData("postgres://u:p@h:notaport/d")]
    [InlineData("postgres://u:p@h:99999/d")]
    [InlineData("postgres://u:p@h/d?bogus=1")]
    [InlineData("postgres://u:p@h/d?sslmode=maybe")]
    [InlineData("host=h dbname")]
    public void Should_Refuse_Malformed_Connections_With_A_Usage_Error(string text)
    {
        var e = Assert.Throws<UsageException>(() => PgConnectionInfo.Parse(text, NoEnv));

        Assert.Equal(ExitCode.Usage, e.ExitCode);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Should_Not_Echo_A_Password_In_A_Parse_Error()
    {
        var e = Assert.Throws<UsageException>(() => PgConnectionInfo.Parse("host=h password=topsecret99 dbname", NoEnv));

        Assert.DoesNotContain("topsecret99", e.Message, StringComparison.Ordinal);
    }
}
