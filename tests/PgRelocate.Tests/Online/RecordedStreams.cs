using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Npgsql;
using PgRelocate.Online;
using PgRelocate.Online.Follow;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Online;

/// <summary>
/// Sessions of PostgreSQL's pgoutput plugin recorded from a real source, kept in <c>Online/Streams/</c> (one
/// message a line: its WAL position and its bytes, in hex), so the reader and the applier can be tested
/// without a server. <see cref="Scenarios"/> says what each recording holds; <c>RecordedStreamTests</c> records
/// them again from a real server and checks they still decode to what is stored, and rewrites the files when
/// <c>PGRELOCATE_RECORD_STREAMS=1</c>.
/// </summary>
internal static class RecordedStreams
{
    public const string Publication = "golden";

    /// <summary>The tables every recording's source has, and rows some scenarios start from.</summary>
    public const string Schema = """
        CREATE TABLE docs (id int PRIMARY KEY, body text, n int);
        ALTER TABLE docs ALTER body SET STORAGE EXTERNAL;
        INSERT INTO docs VALUES (1, repeat('long document ', 400), 0);
        CREATE TABLE parents (id int PRIMARY KEY, name text);
        CREATE TABLE children (id int PRIMARY KEY, parent int REFERENCES parents (id), v int);
        INSERT INTO parents VALUES (1, 'p'); INSERT INTO children VALUES (1, 1, 1);
        CREATE TABLE lane_a (id int PRIMARY KEY, v text);
        CREATE TABLE lane_b (id int PRIMARY KEY, v text);
        CREATE TABLE bulk (id int PRIMARY KEY, pad text);
        CREATE PUBLICATION golden FOR TABLE docs, parents, children, lane_a, lane_b, bulk;
        """;

    /// <summary>Each recording's name and the statements whose changes it holds, run in order on the source above.</summary>
    public static readonly IReadOnlyList<(string Name, string Sql)> Scenarios =
    [
        // The TOASTed body is not in the stream: an UPDATE of another column leaves it unchanged ('u').
        ("toast-unchanged", "UPDATE docs SET n = n + 1 WHERE id = 1"),

        // The key changes: the old key comes with the new row (whose TOASTed body is unchanged).
        ("key-change", "UPDATE docs SET id = 2, n = 5 WHERE id = 1"),

        // Over logical_decoding_work_mem (64 kB): streamed before its commit, in blocks; the second
        // subtransaction is rolled back, the third one's row stays.
        ("streamed-subtransaction", """
            BEGIN;
            INSERT INTO bulk SELECT g, repeat('p', 40) FROM generate_series(1, 600) g;
            SAVEPOINT s;
            INSERT INTO bulk SELECT g, repeat('q', 40) FROM generate_series(1001, 1600) g;
            ROLLBACK TO SAVEPOINT s;
            INSERT INTO bulk VALUES (3000, 'last');
            COMMIT;
            """),

        // Two tables a foreign key ties, in one TRUNCATE.
        ("truncate-tied", "TRUNCATE parents, children"),

        // One transaction over two tables no constraint ties: with two lanes, one each.
        ("two-lanes", """
            BEGIN;
            INSERT INTO lane_a VALUES (1, 'a');
            INSERT INTO lane_b VALUES (1, 'b');
            UPDATE lane_a SET v = 'a2' WHERE id = 1;
            COMMIT;
            """),
    ];

    /// <summary>The stored recording's messages.</summary>
    public static IReadOnlyList<StreamMessage> Read(string name) =>
        File.ReadLines(PathOf(name))
            .Where(l => l.Length > 0)
            .Select(l => l.Split(' '))
            .Select(p => new StreamMessage(ulong.Parse(p[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture), Convert.FromHexString(p[1])))
            .ToList();

    /// <summary>The recording's changes, as the reader hands them to the applier.</summary>
    internal static async Task<IReadOnlyList<Change>> ChangesAsync(IReadOnlyList<StreamMessage> messages)
    {
        var channel = System.Threading.Channels.Channel.CreateUnbounded<Change>();
        await new ChangeReader(AsAsync(messages)).RunAsync(channel.Writer, CancellationToken.None);
        channel.Writer.Complete();
        var changes = new List<Change>();
        await foreach (var change in channel.Reader.ReadAllAsync())
        {
            changes.Add(change);
        }

        return changes;
    }

    /// <summary>Records every scenario on a source that streams its changes (wal_level logical, 64 kB of decoding memory).</summary>
    public static async Task<Dictionary<string, IReadOnlyList<StreamMessage>>> RecordAsync(OnlineServers servers)
    {
        var db = await servers.SourceAsync(Schema);
        var recorded = new Dictionary<string, IReadOnlyList<StreamMessage>>(StringComparer.Ordinal);
        await using var conn = new NpgsqlConnection(db.ToNpgsqlConnectionString());
        await conn.OpenAsync();
        // The test clusters commit asynchronously; decoding reads the WAL only as far as it is flushed.
        await Exec(conn, "SET synchronous_commit = on");
        foreach (var (name, sql) in Scenarios)
        {
            var slot = "golden_" + name.Replace('-', '_');
            await Exec(conn, $"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
            await Exec(conn, sql);
            var messages = new List<StreamMessage>();
            await using (var cmd = new NpgsqlCommand(
                $"SELECT lsn::text, data FROM pg_logical_slot_get_binary_changes('{slot}', NULL, NULL, 'proto_version', '2', 'publication_names', '{Publication}', 'streaming', 'on', 'messages', 'true')", conn))
            await using (var r = await cmd.ExecuteReaderAsync())
            {
                while (await r.ReadAsync())
                {
                    var lsn = r.GetString(0).Split('/');
                    var at = (ulong.Parse(lsn[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture) << 32) | ulong.Parse(lsn[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    messages.Add(new StreamMessage(at, r.GetFieldValue<byte[]>(1)));
                }
            }

            await Exec(conn, $"SELECT pg_drop_replication_slot('{slot}')");
            recorded[name] = messages;
        }

        return recorded;
    }

    /// <summary>Writes a recording where <see cref="Read"/> finds it, in the checkout (and the test's folder).</summary>
    public static void Write(string name, IReadOnlyList<StreamMessage> messages)
    {
        var text = new StringBuilder();
        foreach (var m in messages)
        {
            text.Append(m.WalStart.ToString("X", CultureInfo.InvariantCulture)).Append(' ').Append(Convert.ToHexString(m.Data.Span)).Append('\n');
        }

        File.WriteAllText(Path.Combine(CheckoutFolder(), name + ".pgoutput"), text.ToString());
        File.WriteAllText(PathOf(name), text.ToString());
    }

    private static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "Online", "Streams", name + ".pgoutput");

    private static string CheckoutFolder([CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "Streams");

    private static async Task Exec(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async IAsyncEnumerable<StreamMessage> AsAsync(IEnumerable<StreamMessage> messages)
    {
        foreach (var m in messages)
        {
            yield return m;
        }

        await Task.CompletedTask;
    }
}
