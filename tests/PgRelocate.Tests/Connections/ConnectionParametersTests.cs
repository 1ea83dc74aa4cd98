using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Tests.Connections;

/// <summary>One URL with every parameter, rendered for Npgsql and for libpq's environment from the one table.</summary>
public class ConnectionParametersTests
{
    private static readonly Dictionary<string, string?> NoEnv = new() { ["HOME"] = "/nonexistent" };

    private const string Everything =
        "postgres://alice:pw%2Fsecret@db.example.com:6543/app?sslmode=require&application_name=web&options=-c%20work_mem%3D64MB" +
        "&connect_timeout=7&sslnegotiation=postgres&sslrootcert=/certs/ca.crt&sslcert=/certs/client.crt&sslkey=/certs/client.key" +
        "&sslpassword=keypass1&sslcrl=/certs/crl.pem&channel_binding=require&target_session_attrs=read-write";

    [Fact]
    public void Should_Give_Every_Parameter_To_The_Child_Environment()
    {
        var env = PgConnectionInfo.Parse(Everything, NoEnv).ToLibpqEnvironment().ToDictionary();
        // libpq reads sslpassword from no variable: it goes in a service file only this user can read.
        Assert.Equal("pgrelocate", env["PGSERVICE"]);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(env["PGSERVICEFILE"]));
        Assert.Contains("sslpassword=keypass1", File.ReadAllText(env["PGSERVICEFILE"]), StringComparison.Ordinal);
        env.Remove("PGSERVICE");
        env.Remove("PGSERVICEFILE");

        Assert.Equal(new Dictionary<string, string>
        {
            ["PGHOST"] = "db.example.com", ["PGPORT"] = "6543", ["PGDATABASE"] = "app", ["PGUSER"] = "alice",
            ["PGPASSWORD"] = "pw/secret", ["PGAPPNAME"] = "web", ["PGOPTIONS"] = "-c work_mem=64MB",
            ["PGCONNECT_TIMEOUT"] = "7", ["PGSSLMODE"] = "require", ["PGSSLNEGOTIATION"] = "postgres",
            ["PGSSLROOTCERT"] = "/certs/ca.crt", ["PGSSLCERT"] = "/certs/client.crt", ["PGSSLKEY"] = "/certs/client.key",
            ["PGSSLCRL"] = "/certs/crl.pem", ["PGCHANNELBINDING"] = "require", ["PGTARGETSESSIONATTRS"] = "read-write",
        }, env.OrderBy(e => e.Key, StringComparer.Ordinal).ToDictionary());
    }

    [Fact]
    public void Should_Give_Every_Parameter_Npgsql_Has_A_Setting_For_To_Npgsql()
    {
        var b = new NpgsqlConnectionStringBuilder(PgConnectionInfo.Parse(Everything, NoEnv).ToNpgsqlConnectionString());

        Assert.Equal("db.example.com", b.Host);
        Assert.Equal(6543, b.Port);
        Assert.Equal("app", b.Database);
        Assert.Equal("alice", b.Username);
        Assert.Equal("pw/secret", b.Password);
        Assert.Equal("web", b.ApplicationName);
        Assert.Equal("-c work_mem=64MB", b.Options);
        Assert.Equal(7, b.Timeout);
        Assert.Equal(SslNegotiation.Postgres, b.SslNegotiation);
        Assert.Equal("keypass1", b.SslPassword);
        Assert.Equal(ChannelBinding.Require, b.ChannelBinding);
        // The CA file does not exist here: require then does not verify, in libpq as here.
        Assert.Equal(SslMode.Require, b.SslMode);
        Assert.Null(b.RootCertificate);
    }

    [Fact]
    public void Should_Say_For_Every_Parameter_How_It_Reaches_Npgsql()
    {
        foreach (var p in ConnectionParameters.All)
        {
            Assert.True(p.ToNpgsql is not null || p.NpgsqlNote is not null, p.Keyword);
        }
    }

    [Fact]
    public void Should_Verify_With_Require_When_The_CA_File_Exists_As_Libpq_Does()
    {
        var ca = Path.GetTempFileName();
        try
        {
            var b = new NpgsqlConnectionStringBuilder(PgConnectionInfo.Parse($"postgres://u@h/d?sslmode=require&sslrootcert={ca}", NoEnv).ToNpgsqlConnectionString());

            Assert.Equal(SslMode.VerifyCA, b.SslMode);
            Assert.Equal(ca, b.RootCertificate);
        }
        finally
        {
            File.Delete(ca);
        }
    }

    [Fact]
    public void Should_Read_Every_Variable_Of_The_Table_From_The_Environment()
    {
        var env = new Dictionary<string, string?>(NoEnv) { ["PGSSLCRL"] = "/c/crl.pem", ["PGTARGETSESSIONATTRS"] = "primary", ["PGCHANNELBINDING"] = "disable" };

        var c = PgConnectionInfo.Parse("postgres://u@h/d", env);

        Assert.Equal("/c/crl.pem", c.Get("sslcrl"));
        Assert.Equal("primary", c.ToLibpqEnvironment()["PGTARGETSESSIONATTRS"]);
        Assert.Equal("disable", c.ToLibpqEnvironment()["PGCHANNELBINDING"]);
    }

    [Fact]
    public void Should_Hide_The_Key_Password_As_It_Hides_The_Password()
    {
        var c = PgConnectionInfo.Parse(Everything, NoEnv);

        Assert.DoesNotContain("keypass1", c.ToString(), StringComparison.Ordinal);
        Assert.Equal("key: ***", c.Scrub("key: keypass1"));
    }

    [Fact]
    public void Should_Keep_The_Parents_Other_PG_Variables_Out_Of_A_Child()
    {
        var inherited = new Dictionary<string, string?>
        {
            ["PATH"] = "/bin", ["PGHOST"] = "elsewhere", ["PGSSLMODE"] = "disable", ["PGSERVICE"] = "prod", ["PG_COLOR"] = "never",
        };
        var given = PgConnectionInfo.Parse("postgres://u@h/d", NoEnv).ToLibpqEnvironment();

        PgRelocate.Tools.ChildProcess.IsolateEnvironment(inherited, given);

        // PGHOST stays only to be replaced by the connection's own.
        Assert.Equal(["PATH", "PGHOST", "PG_COLOR"], inherited.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("sslmode=verify")]
    [InlineData("target_session_attrs=primary-only")]
    [InlineData("connect_timeout=soon")]
    [InlineData("sslnegotiation=fast")]
    public void Should_Refuse_A_Value_Libpq_Refuses(string query)
    {
        Assert.Throws<UsageException>(() => PgConnectionInfo.Parse("postgres://u@h/d?" + query, NoEnv));
    }
}
