using PgRelocate.Clusters;
using PgRelocate.Preflight;
using PgRelocate.Preflight.Checks;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary>A cluster with the smallest lock table the server takes: 10 locks for each of 20 connections.</summary>
public sealed class TinyLockTableServer : PgServer
{
    protected override LocalClusterOptions Options => base.Options with
    {
        Settings = new Dictionary<string, string> { ["max_locks_per_transaction"] = "10", ["max_connections"] = "20" },
    };
}

/// <summary>The source's lock table against the tables pg_dump and the copy lock in one transaction.</summary>
public class SourceLockTableCheckTests(TinyLockTableServer server) : IClassFixture<TinyLockTableServer>
{
    [Theory]
    [InlineData(20, CheckStatus.Ok, "holds about 200 locks")]
    [InlineData(150, CheckStatus.Warn, "more than half of it")]
    [InlineData(260, CheckStatus.Warn, "max_locks_per_transaction on the source to 27 or more")]
    public async Task Should_Weigh_The_Sources_Tables_Against_Its_Lock_Table(int tables, CheckStatus status, string said)
    {
        var source = await server.CreateDatabaseAsync("src");
        for (var from = 1; from <= tables; from += 10)
        {
            await PgServer.ExecuteAsync(source, $"DO $$ BEGIN FOR i IN {from}..{Math.Min(from + 9, tables)} LOOP EXECUTE format('CREATE TABLE t%s (id int)', i); END LOOP; END $$");
        }

        var row = await Checks.RunOneAsync(new SourceLockTableCheck(), source);

        Assert.Equal(status, row.Status);
        Assert.Contains($"lock the source's {tables} tables in one transaction", row.Found, StringComparison.Ordinal);
        Assert.Contains(said, row.Found + " " + row.Next, StringComparison.Ordinal);
    }
}
