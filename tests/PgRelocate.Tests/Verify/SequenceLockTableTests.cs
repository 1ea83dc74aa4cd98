using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Tests.Online;
using PgRelocate.Verify;

namespace PgRelocate.Tests.Verify;

/// <summary>
/// Reading a sequence's value locks it to the end of the transaction: verify reads 600 of them on servers whose
/// whole lock table holds about 250 locks (<see cref="TinyLockTableServer"/>), a batch at a time.
/// </summary>
public class SequenceLockTableTests(TinyLockTableServer server) : IClassFixture<TinyLockTableServer>
{
    private const int Sequences = 600;

    [Fact]
    public async Task Should_Compare_More_Sequences_Than_The_Lock_Table_Holds_And_Still_Find_One_Behind()
    {
        var source = await server.CreateDatabaseAsync("seqs");
        // Built in transactions of 20: creating them all in one would not fit the lock table either.
        for (var from = 1; from <= Sequences; from += 20)
        {
            await PgServer.ExecuteAsync(source, $"DO $$ BEGIN FOR i IN {from}..{from + 19} LOOP EXECUTE format('CREATE SEQUENCE s%s', i); PERFORM nextval(format('s%s', i)); END LOOP; END $$");
        }

        var targetName = source.Database + "_copy";
        await server.ExecuteAsync("postgres", $"CREATE DATABASE {targetName} TEMPLATE {source.Database}");
        var target = source.WithDatabase(targetName);
        await PgServer.ExecuteAsync(source, "SELECT setval('s599', 42)");

        var result = await Verifier.RunAsync(new VerifyOptions { Source = source, Target = target, Jobs = 2 }, PgRelocate.Progress.NullReporter.Instance, CancellationToken.None);

        Assert.Equal(Sequences, result.ObjectCounts.Single(c => c.Kind == "sequences").Source);
        var behind = Assert.Single(result.SchemaDifferences);
        Assert.Contains("s599", behind.Name, StringComparison.Ordinal);
        Assert.Equal("sequence value", behind.Kind);
    }
}
