using Npgsql;
using PgRelocate.Copy;

namespace PgRelocate.Online.Steps;

/// <summary>
/// What the switch reads of the source for its phases after the last changes: the sequences' values, the extensions'
/// configuration tables and the unlogged tables. Once the source is read-only nothing changes them (nextval, DDL and
/// writes are refused in a read-only transaction), so they are read in one round trip on the switch's source session
/// while the follow applies the last changes, which waits on the stream and the target: at 50 ms a round trip they
/// were three round trips of downtime of their own, one after another. The session is the caller's again once
/// <see cref="ReadAsync"/> is done.
/// </summary>
internal sealed record SwitchReadsAhead(IReadOnlyList<SequenceValue> Sequences, IReadOnlyList<ConfigurationRows.Table> ConfigurationTables, IReadOnlyList<string> UnloggedTables)
{
    public static async Task<SwitchReadsAhead> ReadAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        SequenceSync.Listed sequences;
        IReadOnlyList<ConfigurationRows.Table> configuration;
        var unlogged = new List<string>();
        await using (var batch = new NpgsqlBatch(source)
        {
            BatchCommands = { new(SequenceSync.ListSql(source)), new(ConfigurationRows.TablesSql), new(OnlineSql.UnloggedTables) },
        })
        await using (var r = await batch.ExecuteReaderAsync(cancellationToken))
        {
            sequences = await SequenceSync.ReadListAsync(r, cancellationToken);
            await r.NextResultAsync(cancellationToken);
            configuration = await ConfigurationRows.ReadTablesAsync(r, cancellationToken);
            await r.NextResultAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                unlogged.Add(r.GetString(0));
            }
        }

        // Sequences never used (or not readable from the catalog) read exactly: a round trip more only where there are any.
        return new SwitchReadsAhead(await SequenceSync.CompleteAsync(source, sequences, cancellationToken), configuration, unlogged);
    }
}
