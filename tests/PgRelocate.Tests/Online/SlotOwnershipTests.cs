using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.Internal;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Online;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// A slot named as the tool's (pgrelocate_ID) is only treated as the tool's when that is provable: decoded by
/// pgoutput with the publication of its name beside it. `cancel ID --source URL` without the journal removes only
/// such a slot, never ends a session reading it without --force, and says exactly what it removed; `check` and
/// `migrate` name no other slot as pgrelocate's nor give a command that would remove it.
/// </summary>
public class SlotOwnershipTests(OnlineServers servers) : IClassFixture<OnlineServers>
{
    [Fact]
    public async Task Should_Leave_Alone_Slots_Named_As_Ours_That_Are_Not_And_Their_Readers()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);");
        var superuser = servers.Source.Cluster.Superuser(source.Database);
        var (decoded, bare) = (MigrationJournal.NewId(), NewOtherId());
        var (decodedSlot, bareSlot) = (OnlineNames.Slot(decoded), OnlineNames.Slot(bare));
        await PgServer.ExecuteAsync(source, $"SELECT pg_create_logical_replication_slot('{decodedSlot}', 'test_decoding')");
        // pgoutput, but no publication of its name: another program's, named like ours.
        await PgServer.ExecuteAsync(source, $"SELECT pg_create_logical_replication_slot('{bareSlot}', 'pgoutput')");
        using var reading = new CancellationTokenSource();
        var reader = ReadAsync(source, decodedSlot, "test_decoding", [], reading.Token);
        try
        {
            await WaitUntilReadAsync(superuser, decodedSlot);
            var readerPid = await PgServer.ScalarAsync<int>(superuser, $"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{decodedSlot}'");
            using var elsewhere = new TempDir();

            var cancelDecoded = await CliRunner.RunAsync("cancel", decoded, "--workdir", elsewhere.Path, "--source", CliRunner.Url(source), "--force");
            var cancelBare = await CliRunner.RunAsync("cancel", bare, "--workdir", elsewhere.Path, "--source", CliRunner.Url(source));
            var check = await CliRunner.RunAsync("check", "--source", CliRunner.Url(source), "--online", "-v");
            var dump = await CliRunner.RunAsync("dump", "--source", CliRunner.Url(source), "--to", elsewhere.File("x.dump"));

            Assert.True(cancelDecoded.ExitCode == 2, cancelDecoded.ToString());
            Assert.Contains("its output plugin is test_decoding, not pgoutput", cancelDecoded.Stderr, StringComparison.Ordinal);
            Assert.Contains("Nothing was changed.", cancelDecoded.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Removed", cancelDecoded.Output, StringComparison.Ordinal);
            Assert.True(cancelBare.ExitCode == 2, cancelBare.ToString());
            Assert.Contains($"no publication {bareSlot} is beside it", cancelBare.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Removed", cancelBare.Output, StringComparison.Ordinal);
            Assert.True(check.ExitCode == 0, check.ToString());
            Assert.Contains("No replication slot of pgrelocate on the source's server (2 named like its slots are not its)", Words(check.Stdout), StringComparison.Ordinal);
            foreach (var output in new[] { check.Output, dump.Output })
            {
                Assert.DoesNotContain("pg_drop_replication_slot", output, StringComparison.Ordinal);
                Assert.DoesNotContain("pgrelocate cancel", output, StringComparison.Ordinal);
                Assert.DoesNotContain($"{decodedSlot} of pgrelocate", output, StringComparison.Ordinal);
                Assert.DoesNotContain($"{bareSlot} of pgrelocate", output, StringComparison.Ordinal);
            }

            // Outside our code: both slots are still there, and the other program's reader still reads, in the same session.
            Assert.Equal(2L, await PgServer.ScalarAsync<long>(superuser, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('{decodedSlot}', '{bareSlot}')"));
            Assert.Equal(readerPid, await PgServer.ScalarAsync<int>(superuser, $"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{decodedSlot}'"));
            Assert.False(reader.IsCompleted);
        }
        finally
        {
            await reading.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reader);
            await DropAsync(superuser, decodedSlot, bareSlot);
        }
    }

    [Fact]
    public async Task Should_Remove_A_Slot_That_Is_Ours_Without_Its_Journal_Ending_Its_Reader_Only_With_Force()
    {
        var source = await servers.SourceAsync("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);");
        var superuser = servers.Source.Cluster.Superuser(source.Database);
        var id = MigrationJournal.NewId();
        var slot = OnlineNames.Slot(id);
        await PgServer.ExecuteAsync(source, $"CREATE PUBLICATION {slot} FOR TABLE t");
        await PgServer.ExecuteAsync(source, $"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
        using var reading = new CancellationTokenSource();
        var reader = ReadAsync(source, slot, "pgoutput", [new("proto_version", "1"), new("publication_names", slot)], reading.Token);
        try
        {
            await WaitUntilReadAsync(superuser, slot);
            var readerPid = await PgServer.ScalarAsync<int>(superuser, $"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'");
            using var elsewhere = new TempDir();

            var refused = await CliRunner.RunAsync("cancel", id, "--workdir", elsewhere.Path, "--source", CliRunner.Url(source));

            Assert.True(refused.ExitCode == 2, refused.ToString());
            Assert.Contains($"Replication slot {slot} is being read by a session on the source (server process {readerPid})", refused.Stderr, StringComparison.Ordinal);
            Assert.Contains("pass --force", refused.Stderr, StringComparison.Ordinal);
            Assert.Equal(readerPid, await PgServer.ScalarAsync<int>(superuser, $"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'"));
            Assert.Equal(1L, await PgServer.ScalarAsync<long>(superuser, $"SELECT count(*) FROM pg_publication WHERE pubname = '{slot}'"));

            var forced = await CliRunner.RunAsync("cancel", id, "--workdir", elsewhere.Path, "--source", CliRunner.Url(source), "--force");

            Assert.True(forced.ExitCode == 0, forced.ToString());
            Assert.Contains($"Removed from the source: the session reading replication slot {slot} (server process {readerPid}, ended by --force), the slot, and publication {slot}.", Words(forced.Stdout), StringComparison.Ordinal);
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(superuser, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"));
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(superuser, $"SELECT count(*) FROM pg_publication WHERE pubname = '{slot}'"));
            Assert.Equal(0L, await PgServer.ScalarAsync<long>(superuser, $"SELECT count(*) FROM pg_stat_activity WHERE pid = {readerPid}"));
        }
        finally
        {
            await reading.CancelAsync();
            await Record.ExceptionAsync(() => reader);
            await DropAsync(superuser, slot);
        }
    }

    /// <summary>An id of the tool's form that no other test's migration has.</summary>
    private static string NewOtherId() => MigrationJournal.NewId()[..^4] + "ffff";

    /// <summary>Another program reading a slot: a replication session streaming from it until canceled.</summary>
    private static async Task ReadAsync(PgConnectionInfo source, string slot, string plugin, List<KeyValuePair<string, string?>> options, CancellationToken cancellationToken)
    {
        await using var connection = new LogicalReplicationConnection(source.ToNpgsqlConnectionString());
        await connection.Open(cancellationToken);
        await foreach (var message in connection.StartLogicalReplication(new Slot(plugin, slot), cancellationToken, null, options))
        {
            connection.SetReplicationStatus(message.WalEnd);
        }
    }

    private static async Task WaitUntilReadAsync(PgConnectionInfo superuser, string slot)
    {
        await Eventually.True(
            async () => await PgServer.ScalarAsync<bool>(superuser, $"SELECT coalesce(bool_or(active), false) FROM pg_replication_slots WHERE slot_name = '{slot}'"),
            TimeSpan.FromSeconds(30), $"No session began reading slot {slot}.");
    }

    private static async Task DropAsync(PgConnectionInfo superuser, params string[] slots)
    {
        var names = string.Join(", ", slots.Select(s => $"'{s}'"));
        await Eventually.Holds(
            async () => await PgServer.ScalarAsync<long>(superuser, $"SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ({names}) AND active") == 0,
            TimeSpan.FromSeconds(10));

        await PgServer.ExecuteAsync(superuser, $"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name IN ({names})");
    }

    private static string Words(string text) => string.Join(' ', text.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries));

    private sealed class Slot(string plugin, string name) : LogicalReplicationSlot(plugin, new ReplicationSlotOptions(name));
}
