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
        // Logical decoding messages (the cutover's marker) exist from PostgreSQL 14.
        var options = new PgOutputReplicationOptions(publication, PgOutputProtocolVersion.V1, messages: connection.PostgreSqlVersion.Major >= 14 ? true : null);
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
                _ => null,
            };
            if (change is null or RelationMarker)
            {
                continue;
            }

            Volatile.Write(ref _betweenTransactions, change is CommitChange ? 1 : 0);
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

    /// <summary>A relation message: remembered, not passed on (each change carries its relation).</summary>
    private sealed record RelationMarker : Change
    {
        public static readonly RelationMarker Instance = new();
    }
}
