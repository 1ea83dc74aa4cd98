using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The way back applies the target's transactions in their commit order: interleavings where any other order
/// (by first write, by transaction id, by start, the rows of one transaction reversed) ends in a unique
/// violation on the old source or in a different final state, all read by one round.
/// </summary>
public partial class FallbackTests
{
    [Fact]
    public async Task Should_Apply_In_Commit_Order_Where_Any_Other_Order_Ends_Elsewhere()
    {
        var (source, target, dir, run, id) = await SwitchAsync("commitorder");
        using (dir)
        {
            await using var hold = await OpenAsync(target);
            await using var early = await OpenAsync(target);
            await using var late = await OpenAsync(target);
            // Held open across all of them: one round reads every transaction below at once.
            await Db.ExecuteAsync(hold, "BEGIN; SELECT txid_current();", CancellationToken.None);
            for (var k = 1; k <= 30; k++)
            {
                // "early" begins and writes first (its id, its first write and its start all come first) but commits
                // last; "late" moves row k's key and unique value away meanwhile and commits first; "early" then
                // reuses both and updates the moved row. Only "late" before "early" gives the target's rows.
                await Db.ExecuteAsync(early, $"BEGIN; INSERT INTO app.nokey VALUES ({k}, 'early');", CancellationToken.None);
                await Db.ExecuteAsync(late, $"""
                    BEGIN;
                    UPDATE app.ordered SET v = 'late' WHERE id = {k};
                    UPDATE app.ordered SET id = id + 1000, u = u + 1000 WHERE id = {k};
                    DELETE FROM app.nokey WHERE a = {k};
                    COMMIT;
                    """, CancellationToken.None);
                await Db.ExecuteAsync(early, $"""
                    INSERT INTO app.ordered VALUES ({k}, {k}, 'early');
                    UPDATE app.ordered SET v = v || ' then updated' WHERE id = {k};
                    UPDATE app.ordered SET v = 'early over late' WHERE id = {k + 1000};
                    COMMIT;
                    """, CancellationToken.None);
            }

            // Many clients at once on the same few rows meanwhile, taking turns by their row locks.
            await Task.WhenAll(Enumerable.Range(1, 4).Select(async writer =>
            {
                await using var conn = await OpenAsync(target);
                for (var i = 0; i < 40; i++)
                {
                    await Db.ExecuteAsync(conn, $"BEGIN; UPDATE app.ordered SET v = v || '{writer}' WHERE id = {(i % 3) + 1}; UPDATE app.ordered SET v = v || '{writer}' WHERE id = {1000 + (i % 3) + 1}; DELETE FROM app.ordered WHERE u = {50 + writer}; INSERT INTO app.ordered VALUES ({50 + writer}, {50 + writer}, '{writer}-{i}'); COMMIT;", CancellationToken.None);
                }
            }));
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.ordered WHERE v <> 'start'"));
            await Db.ExecuteAsync(hold, "COMMIT", CancellationToken.None);
            await WaitForWayBackAsync(run, target);
            Assert.Equal("30 30", await PgServer.ScalarAsync<string>(source, "SELECT count(*) FILTER (WHERE id <= 30 AND v LIKE 'early then updated%') || ' ' || count(*) FILTER (WHERE id > 1000 AND v LIKE 'early over late%') FROM app.ordered"));
            await AssertSameRowsAsync(source, target);
            var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path]);
            Assert.True(rollback.ExitCode == 0, rollback.ToString());
            await AssertSameRowsAsync(source, target);
        }
    }

    private static async Task<NpgsqlConnection> OpenAsync(PgConnectionInfo db)
    {
        var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        return conn;
    }
}
