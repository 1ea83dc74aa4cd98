using System.Threading.Channels;
using Npgsql.Replication;
using Npgsql.Replication.Internal;
using NpgsqlTypes;

namespace PgRelocate.Online.Follow;

/// <summary>One message of the slot's stream: where it is in the source's WAL, and its bytes.</summary>
internal readonly record struct StreamMessage(ulong WalStart, ReadOnlyMemory<byte> Data);

/// <summary>
/// Reads the slot's pgoutput stream and turns each message into a <see cref="Change"/> the applier can keep
/// (<see cref="PgOutputDecoder"/>), one message at a time, into a bounded channel. The bound is what keeps memory
/// flat whatever a transaction's size: a million-row UPDATE waits in the source's WAL, not in this process.
/// From PostgreSQL 14, the source sends a large transaction while it runs, in blocks (protocol version 2,
/// streaming): its changes come wrapped in <see cref="StreamedChange"/>, between other transactions, and its end
/// as <see cref="StreamCommitChange"/> or <see cref="StreamAbortChange"/>. The source then neither holds the
/// transaction in memory nor spills it to its own disk, and the changes are here by the time it commits.
/// The messages come from a live session (<see cref="Stream"/>) or, in tests, a recorded one.
/// </summary>
internal sealed class ChangeReader(IAsyncEnumerable<StreamMessage> messages)
{
    private readonly PgOutputDecoder _decoder = new();
    private long _received;
    private int _betweenTransactions = 1;
    private int _waiting;

    /// <summary>Changes read so far (begin and commit included), for the applier to tell when it has caught up.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>True when the last message read ended a transaction (or none came yet).</summary>
    public bool BetweenTransactions => Volatile.Read(ref _betweenTransactions) == 1;

    /// <summary>True while the reader waits for the next message (everything before it is handed over).</summary>
    public bool Waiting => Volatile.Read(ref _waiting) == 1;

    public async Task RunAsync(ChannelWriter<Change> output, CancellationToken cancellationToken)
    {
        await using var next = messages.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            Volatile.Write(ref _waiting, 1);
            if (!await next.MoveNextAsync())
            {
                break;
            }

            Volatile.Write(ref _waiting, 0);
            var change = _decoder.Decode(next.Current.Data.Span, next.Current.WalStart);
            Volatile.Write(ref _betweenTransactions, _decoder.BetweenTransactions ? 1 : 0);
            if (change is null)
            {
                continue;
            }

            await output.WriteAsync(change, cancellationToken);
            Interlocked.Increment(ref _received);
        }
    }

    /// <summary>
    /// The slot's messages from <paramref name="from"/> on a replication session: protocol version 2 with
    /// streaming of large transactions and logical decoding messages (the cutover's marker) from PostgreSQL 14,
    /// else version 1. Each message is copied into one reused buffer, so it must be decoded before the next.
    /// </summary>
    public static async IAsyncEnumerable<StreamMessage> Stream(
        LogicalReplicationConnection connection, string slot, string publication, NpgsqlLogSequenceNumber from,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var options = new List<KeyValuePair<string, string?>>
        {
            new("publication_names", Connections.Db.Ident(publication)),
        };
        if (connection.PostgreSqlVersion.Major >= 14)
        {
            options.Add(new("proto_version", "2"));
            options.Add(new("streaming", "on"));
            options.Add(new("messages", "true"));
        }
        else
        {
            options.Add(new("proto_version", "1"));
        }

        using var buffer = new MemoryStream();
        await foreach (var message in connection.StartLogicalReplication(new PgOutputSlot(slot), cancellationToken, from, options))
        {
            buffer.SetLength(0);
            await message.Data.CopyToAsync(buffer, cancellationToken);
            yield return new StreamMessage((ulong)message.WalStart, buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
        }
    }

    /// <summary>A slot of the pgoutput plugin, by name, for the raw stream.</summary>
    private sealed class PgOutputSlot(string name) : LogicalReplicationSlot("pgoutput", new ReplicationSlotOptions(name));
}
