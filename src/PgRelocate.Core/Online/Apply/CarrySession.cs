using Npgsql;
using PgRelocate.Connections;

namespace PgRelocate.Online.Apply;

/// <summary>
/// The schema carry's own session on the source (opened again when the source ended it), every name qualified
/// (its search_path empty), used by one reader at a time: a caller takes its turn (<see cref="TurnAsync"/>) and
/// releases it when done.
/// </summary>
/// <param name="applicationName">What the session is called (default: <see cref="SchemaObjectSession.ApplicationName"/>).</param>
internal sealed class CarrySession(PgConnectionInfo source, string? applicationName = null) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private NpgsqlConnection? _session;

    /// <summary>Waits until no other caller uses the session; disposing the turn lets the next one in.</summary>
    public async Task<Turn> TurnAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        return new Turn(_gate);
    }

    /// <summary>The session, opened when it is not (the caller holds its turn, or no other caller runs yet).</summary>
    public async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (_session is { State: System.Data.ConnectionState.Open } open)
        {
            return open;
        }

        if (_session is { } broken)
        {
            _session = null;
            await broken.DisposeAsync();
        }

        var session = await Db.OpenAsync(source.WithApplicationName(applicationName ?? SchemaObjectSession.ApplicationName), "source", cancellationToken);
        await Db.ExecuteAsync(session, "SET search_path = ''", cancellationToken);
        _session = session;
        return session;
    }

    public async ValueTask DisposeAsync()
    {
        if (_session is { } session)
        {
            _session = null;
            await session.DisposeAsync();
        }
    }

    /// <summary>A caller's turn on the session: disposing it releases the session to the next.</summary>
    internal sealed class Turn(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}
