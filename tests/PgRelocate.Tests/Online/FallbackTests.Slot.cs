using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Online.Steps;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// The way back into a target whose login role may replicate, on a cluster with wal_level logical: it follows the
/// target by a replication slot and a publication (no trigger, no queue), with the forward follow reversed.
/// Compared with plain SQL digests on both sides; nothing of it is left on the target after its end.
/// </summary>
public partial class FallbackTests
{
    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_Roll_Back_By_A_Slot_After_A_Kill_Applying_What_The_Target_Wrote_Meanwhile()
    {
        var (source, target, dir, run, id) = await SwitchBySlotAsync("slotback", new Dictionary<string, string> { [FaultInjection.Variable] = "kill:way back:applied" });
        using (dir)
        {
            await PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('first')");
            Assert.NotEqual(0, (await run.Result.WaitAsync(TimeSpan.FromMinutes(2))).ExitCode);

            // Written while no process follows: only the rollback's last changes, read from the slot, carry them.
            await PgServer.ExecuteAsync(target, Writes + "INSERT INTO app.items (v, big) VALUES ('last', repeat('t', 100000)); UPDATE app.items SET v = 'last too' WHERE id = 1;");
            var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path]);
            Assert.True(rollback.ExitCode == 1, rollback.ToString());
            Assert.Contains("The request is kept", rollback.Output, StringComparison.Ordinal);
            var resumed = OnlineRun.Resume(source, target, dir.Path, id);
            Assert.True((await resumed.Result).ExitCode == 0, (await resumed.Result).ToString());
            Assert.Contains("rolled back", run.Journal().Step("way back").Summary, StringComparison.Ordinal);

            await AssertSameRowsAsync(source, target);
            Assert.Equal(1L, await PgServer.ScalarAsync<long>(source, "SELECT count(*) FROM app.gone"));
            await AssertNothingLeftAsync(source, target);
            await AssertNoSlotLeftAsync(target);
            await PgServer.ExecuteAsync(source, "INSERT INTO app.items (v) VALUES ('after the rollback')");
            var refused = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('refused')"));
            Assert.Equal(Npgsql.PostgresErrorCodes.ReadOnlySqlTransaction, refused.SqlState);
        }
    }

    [Fact]
    public async Task Should_Roll_Back_By_A_Slot_Copying_The_Unlogged_Tables_Again()
    {
        var (source, target, dir, run, id) = await SwitchBySlotAsync("slotunlogged");
        using (dir)
        {
            // No WAL holds the unlogged table's changes: only its copy at the rollback carries them.
            await PgServer.ExecuteAsync(target, Writes + UnloggedWrites);
            var rollback = await CliRunner.RunAsync(["rollback", id, "--workdir", dir.Path]);
            Assert.True(rollback.ExitCode == 0, rollback.ToString());
            Assert.Equal(0, (await run.Result).ExitCode);
            Assert.Contains("the rows of 1 unlogged table", run.Journal().Step("way back").Summary, StringComparison.Ordinal);

            await AssertSameRowsAsync(source, target, "cache");
            await AssertNothingLeftAsync(source, target);
            await AssertNoSlotLeftAsync(target);
        }
    }

    [Fact]
    public async Task Should_Follow_By_A_Slot_And_Finish_Removing_It_From_The_Target()
    {
        var (source, target, dir, run, id) = await SwitchBySlotAsync("slotfinish");
        using (dir)
        {
            await PgServer.ExecuteAsync(target, Writes);
            await WaitForSameRowsAsync(run, source, target);
            var status = await CliRunner.RunAsync(["status", id, "--once", "--workdir", dir.Path]);
            Assert.Contains("way back: the old source follows the target by a replication slot", status.Output, StringComparison.Ordinal);
            Assert.Contains("of the target's WAL", status.Output, StringComparison.Ordinal);
            var finish = await CliRunner.RunAsync(["finish", id, "--workdir", dir.Path]);
            Assert.True(finish.ExitCode == 0, finish.ToString());
            Assert.Equal(0, (await run.Result).ExitCode);

            await AssertNothingLeftAsync(source, target);
            await AssertNoSlotLeftAsync(target);
            await PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('after the finish')");

            // The forward follow, reused backwards, names its sides as they are: it streams the target into the old source.
            var log = run.Journal().Log;
            Assert.Contains(log, l => l.Contains("Streaming the target's changes from", StringComparison.Ordinal) && l.EndsWith("the position stored in the old source.", StringComparison.Ordinal));
            var switched = log.FindIndex(l => l.Contains("way back capture: ", StringComparison.Ordinal));
            Assert.True(switched > 0, string.Join("\n", log));
            Assert.DoesNotContain(log.Skip(switched), l => l.Contains("the source's changes", StringComparison.Ordinal) || l.Contains("stored in the target", StringComparison.Ordinal));
        }
    }

    [Fact]
    [Trait(Tier.Name, Tier.Long)]
    public async Task Should_End_A_Way_Back_By_A_Slot_Past_Its_Limit_And_Leave_The_Target_Working()
    {
        var (source, target, dir, run, id) = await SwitchBySlotAsync("slotlimit", null, "--max-fallback-queue", "1MB");
        using (dir)
        {
            await using (var hold = new Npgsql.NpgsqlConnection(source.ToNpgsqlConnectionString()))
            {
                // The old source's table locked: the way back's apply waits, and the slot holds the target's WAL meanwhile.
                await hold.OpenAsync();
                await Db.ExecuteAsync(hold, "BEGIN READ WRITE; LOCK TABLE app.items IN ACCESS EXCLUSIVE MODE;", CancellationToken.None);
                await PgServer.ExecuteAsync(target, "INSERT INTO app.items (v, big) SELECT 'big', (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 30)) FROM generate_series(1, 3000)");
                await Eventually.True(
                    async () => await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()") == 0,
                    TimeSpan.FromMinutes(2),
                    "The way back did not stop past its limit.",
                    TimeSpan.FromMilliseconds(250));
                await Db.ExecuteAsync(hold, "COMMIT", CancellationToken.None);
            }

            var result = await run.Result.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("over --max-fallback-queue 1.0 MB", run.Journal().Step("way back").Summary, StringComparison.Ordinal);
            await AssertNothingLeftAsync(source, target);
            await AssertNoSlotLeftAsync(target);
            await PgServer.ExecuteAsync(target, "INSERT INTO app.items (v) VALUES ('still in use')");
        }
    }

    /// <summary>Switched into a database of the logical cluster whose login role has REPLICATION: the way back must choose a slot.</summary>
    private async Task<(PgConnectionInfo Source, PgConnectionInfo Target, TempDir Dir, OnlineRun Run, string Id)> SwitchBySlotAsync(string name, Dictionary<string, string>? environment = null, params string[] extra)
    {
        var target = await servers.Source.CreateDatabaseAsync(name);
        await servers.Source.ExecuteAsync("postgres", $"ALTER ROLE {Db.Ident(target.User)} REPLICATION");
        var switched = await SwitchIntoAsync(target, environment, extra);
        Assert.Equal("slot", switched.Run.Journal().Output(FallbackCaptureStep.StepName, FallbackCaptureStep.By));
        Assert.Equal(1L, await PgServer.ScalarAsync<long>(target, $"SELECT count(*) FROM pg_replication_slots WHERE database = current_database() AND slot_name = '{OnlineNames.Slot(switched.Id)}_back'"));
        Assert.Null(await PgServer.ScalarAsync<string>(target, "SELECT to_regnamespace('pgrelocate_online')::text"));
        return switched;
    }

    /// <summary>Waits until the old source holds exactly the target's rows (by the digests of <see cref="AssertSameRowsAsync"/>).</summary>
    private static Task WaitForSameRowsAsync(OnlineRun run, PgConnectionInfo source, PgConnectionInfo target) =>
        Eventually.True(
            async () =>
            {
                if (run.Result.IsCompleted)
                {
                    Assert.Fail("The migration ended during the way back: " + await run.Result);
                }

                try
                {
                    await AssertSameRowsAsync(source, target);
                    return OnlineStatus.Read(run.Journal().Folder) is { Phase: OnlinePhases.WayBack, Changes: > 0 };
                }
                catch (Xunit.Sdk.EqualException)
                {
                    return false;
                }
            },
            TimeSpan.FromMinutes(2),
            "The way back by a slot did not catch up in time.",
            TimeSpan.FromMilliseconds(250));

    private static async Task AssertNoSlotLeftAsync(PgConnectionInfo target)
    {
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_publication"));
        Assert.Equal(0L, await PgServer.ScalarAsync<long>(target, "SELECT count(*) FROM pg_class WHERE relreplident = 'f' AND relnamespace = 'app'::regnamespace AND relname <> 'nokey'"));
    }
}
