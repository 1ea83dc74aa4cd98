using PgRelocate.Connections;
using PgRelocate.Verify;

namespace PgRelocate.Tests.Verify;

/// <summary>
/// How many tables verify compares at once: as many as asked, but where both servers run on this machine no more
/// than half its cores (each compared table keeps a session busy on both sides).
/// </summary>
public class SessionsPerSideTests
{
    private static PgConnectionInfo At(string host) => PgConnectionInfo.Parse($"postgres://u@{host}:5432/db");

    [Fact]
    public void Both_Servers_On_This_Machine_Share_Its_Cores_Between_The_Two_Sides()
    {
        var half = Math.Max(1, Environment.ProcessorCount / 2);
        Assert.Equal(half, VerifyOptions.SessionsPerSide(Environment.ProcessorCount, At("127.0.0.1"), At("localhost")));
        Assert.Equal(half, VerifyOptions.SessionsPerSide(64, At("127.0.0.1"), At("[::1]")));
        Assert.Equal(1, VerifyOptions.SessionsPerSide(1, At("127.0.0.1"), At("127.0.0.1")));
    }

    [Fact]
    public void A_Remote_Side_Gets_As_Many_As_Asked()
    {
        Assert.Equal(64, VerifyOptions.SessionsPerSide(64, At("db.example.com"), At("127.0.0.1")));
        Assert.Equal(8, VerifyOptions.SessionsPerSide(8, At("127.0.0.1"), At("10.0.0.5")));
    }
}
