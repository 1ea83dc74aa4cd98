using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Copy;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Copy;

/// <summary>
/// The one sequence sync of the copy and the online cutover, on real servers: identity and serial sequences, a
/// sequence never used (is_called false), one with quoted names; an extension's sequence left alone; a sequence the
/// target lacks named, not failed on.
/// </summary>
public class SequenceSyncTests(PgServerPair servers) : IClassFixture<PgServerPair>
{
    private const string Schema = """"
        CREATE TABLE ident (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int);
        CREATE TABLE ser (id serial PRIMARY KEY, v int);
        CREATE SEQUENCE standalone START 100;
        CREATE SCHEMA "Odd ""Schema""";
        CREATE SEQUENCE "Odd ""Schema"""."My.Seq" INCREMENT 5;
        CREATE SEQUENCE member_of_extension;
        """";

    [Fact]
    public async Task Should_Set_Every_User_Sequence_To_The_Sources_Value_And_Is_Called()
    {
        var source = await servers.Source.CreateDatabaseAsync("seq");
        var target = await servers.Target.CreateDatabaseAsync("seq_to");
        await PgServer.ExecuteAsync(source, Schema + """"
            INSERT INTO ident (v) SELECT g FROM generate_series(1, 7) g;
            INSERT INTO ser (v) SELECT g FROM generate_series(1, 3) g;
            SELECT setval('standalone', 100, false);
            SELECT setval('"Odd ""Schema"""."My.Seq"', 55);
            SELECT setval('member_of_extension', 999);
            CREATE SEQUENCE only_on_source;
            SELECT nextval('only_on_source');
            """");
        await PgServer.ExecuteAsync(target, Schema + "SELECT setval('standalone', 300);");
        // Made a member of an extension as an extension's script makes its sequences (which needs the superuser).
        await servers.Source.ExecuteAsync(source.Database, "ALTER EXTENSION plpgsql ADD SEQUENCE public.member_of_extension");
        await servers.Target.ExecuteAsync(target.Database, "ALTER EXTENSION plpgsql ADD SEQUENCE public.member_of_extension");

        int count;
        IReadOnlyList<string> missing;
        await using (var from = await Db.OpenAsync(source, "source", CancellationToken.None))
        await using (var to = await Db.OpenAsync(target, "target", CancellationToken.None))
        {
            (count, missing) = await SequenceSync.SyncAsync(from, to, CancellationToken.None);
        }

        // ident's, ser's, standalone, "My.Seq" and only_on_source: not the extension's.
        Assert.Equal(5, count);
        Assert.Equal(["public.only_on_source"], missing.Select(m => m.Replace("\"", "", StringComparison.Ordinal)));
        foreach (var sequence in new[] { "public.ident_id_seq", "public.ser_id_seq", "public.standalone", "\"Odd \"\"Schema\"\"\".\"My.Seq\"" })
        {
            Assert.Equal(await StateAsync(source, sequence), await StateAsync(target, sequence));
        }

        // Used next, each side hands out the same value: the never-called one its start, not start + 1.
        Assert.Equal(8L, await PgServer.ScalarAsync<long>(target, "INSERT INTO ident (v) VALUES (0) RETURNING id"));
        Assert.Equal(4L, await PgServer.ScalarAsync<long>(target, "INSERT INTO ser (v) VALUES (0) RETURNING id::bigint"));
        Assert.Equal(100L, await PgServer.ScalarAsync<long>(target, "SELECT nextval('standalone')"));
        Assert.Equal(60L, await PgServer.ScalarAsync<long>(target, "SELECT nextval('\"Odd \"\"Schema\"\"\".\"My.Seq\"')"));
        // The extension's sequence is the extension's: CREATE EXTENSION makes it again, the sync leaves it.
        Assert.False(await PgServer.ScalarAsync<bool>(target, "SELECT is_called FROM member_of_extension"));
    }

    [Fact]
    public async Task Should_Set_More_Sequences_Than_One_Statement_Sets_Each_To_Its_Own_Value()
    {
        var source = await servers.Source.CreateDatabaseAsync("seqs");
        var target = await servers.Target.CreateDatabaseAsync("seqs_to");
        const string Many = "DO $$ BEGIN FOR i IN 1..1200 LOOP EXECUTE format('CREATE SEQUENCE s%s', i); END LOOP; END $$";
        await PgServer.ExecuteAsync(source, Many + "; SELECT setval(format('s%s', i), i * 7, i % 2 = 0) FROM generate_series(1, 1200) i");
        await PgServer.ExecuteAsync(target, Many);

        await using (var from = await Db.OpenAsync(source, "source", CancellationToken.None))
        await using (var to = await Db.OpenAsync(target, "target", CancellationToken.None))
        {
            var (count, missing) = await SequenceSync.SyncAsync(from, to, CancellationToken.None);
            Assert.Equal(1200, count);
            Assert.Empty(missing);
        }

        foreach (var i in new[] { 1, 499, 500, 501, 1000, 1001, 1200 })
        {
            Assert.Equal((i * 7L, i % 2 == 0), await StateAsync(target, $"s{i}"));
        }
    }

    [Fact]
    public async Task Should_Leave_Out_A_Sequence_Dropped_After_The_Readers_Snapshot()
    {
        // A verification reads the source in a snapshot taken earlier; an application drops a sequence meanwhile
        // (DROP IDENTITY, a dropped table): the snapshot's catalog still lists it, the server no longer has it.
        var source = await servers.Source.CreateDatabaseAsync("seq_gone");
        await PgServer.ExecuteAsync(source, "CREATE SEQUENCE kept; CREATE SEQUENCE gone; SELECT nextval('kept'), nextval('gone');");
        await using var reader = await Db.OpenAsync(source, "source", CancellationToken.None);
        await Db.ExecuteAsync(reader, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1", CancellationToken.None);
        await PgServer.ExecuteAsync(source, "DROP SEQUENCE gone");

        var listed = await Db.ListAsync(reader, PgRelocate.Catalog.CatalogSql.Expand("SELECT q.relname, q.readable, q.last_value FROM ({{user_sequences}}) q ORDER BY 1"), r => $"{r.GetString(0)} {r.GetBoolean(1)} {r.GetInt64(2)}", CancellationToken.None);

        Assert.Equal(["kept True 1"], listed);
    }

    private static async Task<(long, bool)> StateAsync(PgConnectionInfo db, string sequence)
    {
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"SELECT last_value, is_called FROM {sequence}", conn);
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        return (r.GetInt64(0), r.GetBoolean(1));
    }
}
