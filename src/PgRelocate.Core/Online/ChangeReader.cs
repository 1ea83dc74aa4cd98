using System.Threading.Channels;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;

namespace PgRelocate.Online;

/// <summary>
/// Reads the slot's pgoutput stream and turns each message into a <see cref="Change"/> the applier can keep:
/// Npgsql reuses its message objects and streams row values, so they are read here, one message at a time,
/// into a bounded channel. The bound is what keeps memory flat whatever a transaction's size: a million-row
/// UPDATE waits in the source's WAL, not in this process.
/// From PostgreSQL 14, the source sends a large transaction while it runs, in blocks (protocol version 2,
/// streaming): its changes come wrapped in <see cref="StreamedChange"/>, between other transactions, and its end
/// as <see cref="StreamCommitChange"/> or <see cref="StreamAbortChange"/>. The source then neither holds the
/// transaction in memory nor spills it to its own disk, and the changes are here by the time it commits.
/// </summary>
internal sealed class ChangeReader(LogicalReplicationConnection connection, string slot, string publication)
{
    private readonly Dictionary<uint, SourceRelation> _relations = [];
    private long _received;
    private int _betweenTransactions = 1;
    private int _waiting;

    /// <summary>Changes read so far (begin and commit included), for the applier to tell when it has caught up.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>True when the last message read ended a transaction (or none came yet).</summary>
    public bool BetweenTransactions => Volatile.Read(ref _betweenTransactions) == 1;

    /// <summary>True while the reader waits for the next message (everything before it is handed over).</summary>
    public bool Waiting => Volatile.Read(ref _waiting) == 1;

    public async Task RunAsync(NpgsqlLogSequenceNumber from, ChannelWriter<Change> output, CancellationToken cancellationToken)
    {
        // Logical decoding messages (the cutover's marker) and streaming of large transactions exist from PostgreSQL 14.
        var options = connection.PostgreSqlVersion.Major >= 14
            ? new PgOutputReplicationOptions(publication, PgOutputProtocolVersion.V2, streamingMode: PgOutputStreamingMode.On, messages: true)
            : new PgOutputReplicationOptions(publication, PgOutputProtocolVersion.V1);
        uint? streaming = null;
        await using var messages = connection.StartReplication(new PgOutputReplicationSlot(slot), options, cancellationToken, from).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            Volatile.Write(ref _waiting, 1);
            if (!await messages.MoveNextAsync())
            {
                break;
            }

            Volatile.Write(ref _waiting, 0);
            var message = messages.Current;
            Change? change = message switch
            {
                BeginMessage b => new BeginChange((ulong)b.TransactionFinalLsn, b.TransactionCommitTimestamp),
                CommitMessage c => new CommitChange((ulong)c.CommitLsn, (ulong)c.TransactionEndLsn, c.TransactionCommitTimestamp),
                RelationMessage r => Remember(r),
                InsertMessage i => new InsertChange(_relations[i.Relation.RelationId], await ReadAsync(i.NewRow, cancellationToken)),
                FullUpdateMessage f => new UpdateChange(_relations[f.Relation.RelationId], await ReadAsync(f.OldRow, cancellationToken), true, await ReadAsync(f.NewRow, cancellationToken)),
                IndexUpdateMessage k => new UpdateChange(_relations[k.Relation.RelationId], await ReadAsync(k.Key, cancellationToken), false, await ReadAsync(k.NewRow, cancellationToken)),
                UpdateMessage u => new UpdateChange(_relations[u.Relation.RelationId], null, false, await ReadAsync(u.NewRow, cancellationToken)),
                FullDeleteMessage f => new DeleteChange(_relations[f.Relation.RelationId], await ReadAsync(f.OldRow, cancellationToken), true),
                KeyDeleteMessage k => new DeleteChange(_relations[k.Relation.RelationId], await ReadAsync(k.Key, cancellationToken), false),
                TruncateMessage t => new TruncateChange(
                    t.Relations.Select(r => _relations[r.RelationId]).ToList(),
                    t.Options.HasFlag(TruncateMessage.TruncateOptions.Cascade),
                    t.Options.HasFlag(TruncateMessage.TruncateOptions.RestartIdentity)),
                LogicalDecodingMessage m when m.Prefix == OnlineNames.MarkerPrefix => new MarkerChange(await ReadTextAsync(m.Data, cancellationToken)),
                StreamStartMessage s => StreamMarker.Start(s.TransactionXid),
                StreamStopMessage => StreamMarker.Stop,
                StreamCommitMessage c => new StreamCommitChange(c.TransactionXid, (ulong)c.CommitLsn, (ulong)c.TransactionEndLsn, c.TransactionCommitTimestamp),
                StreamAbortMessage a => new StreamAbortChange(a.TransactionXid, a.SubtransactionXid),
                _ => null,
            };
            if (change is StreamMarker marker)
            {
                streaming = marker.Xid;
                Volatile.Write(ref _betweenTransactions, streaming is null ? 1 : 0);
                continue;
            }

            if (change is null or RelationMarker)
            {
                continue;
            }

            if (streaming is { } xid && change is not (StreamCommitChange or StreamAbortChange))
            {
                change = new StreamedChange(xid, (message as TransactionalMessage)?.TransactionXid ?? xid, change, (ulong)message.WalStart);
            }

            Volatile.Write(ref _betweenTransactions, streaming is null && change is CommitChange or StreamCommitChange or StreamAbortChange ? 1 : 0);
            await output.WriteAsync(change, cancellationToken);
            Interlocked.Increment(ref _received);
        }
    }

    private RelationMarker Remember(RelationMessage r)
    {
        _relations[r.RelationId] = new SourceRelation(
            r.RelationId,
            r.Namespace,
            r.RelationName,
            r.Columns.Select(c => c.ColumnName).ToList(),
            r.Columns.Select(c => c.Flags.HasFlag(RelationMessage.Column.ColumnFlags.PartOfKey)).ToList(),
            r.Columns.Select(c => c.DataTypeId).ToList(),
            r.Columns.Select(c => c.TypeModifier).ToList());
        return RelationMarker.Instance;
    }

    private static async Task<string> ReadTextAsync(Stream data, CancellationToken cancellationToken)
    {
        using var text = new StreamReader(data, System.Text.Encoding.UTF8, leaveOpen: true);
        return await text.ReadToEndAsync(cancellationToken);
    }

    private static async Task<RowValues> ReadAsync(ReplicationTuple tuple, CancellationToken cancellationToken)
    {
        var values = new string?[tuple.NumColumns];
        var unchanged = new bool[tuple.NumColumns];
        var i = 0;
        await foreach (var value in tuple.WithCancellation(cancellationToken))
        {
            if (value.IsUnchangedToastedValue)
            {
                unchanged[i] = true;
            }
            else if (!value.IsDBNull)
            {
                values[i] = await value.Get<string>(cancellationToken);
            }

            i++;
        }

        return new RowValues(values, unchanged);
    }

    /// <summary>The start (with its transaction) or the end of a block of a streamed transaction: not passed on.</summary>
    private sealed record StreamMarker(uint? Xid) : Change
    {
        public static readonly StreamMarker Stop = new((uint?)null);

        public static StreamMarker Start(uint xid) => new(xid);
    }

    /// <summary>A relation message: remembered, not passed on (each change carries its relation).</summary>
    private sealed record RelationMarker : Change
    {
        public static readonly RelationMarker Instance = new();
    }
}
