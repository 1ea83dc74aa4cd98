using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;

namespace PgRelocate.Online.Steps;

/// <summary>
/// The cutover's session on each side. The follow step opens them as it hands the switch on, before the write
/// downtime (<see cref="MigrationContext.HandOff{T}"/>): opening one, with the driver's read of the database's types,
/// took about 50 ms a side on a loaded source, inside the downtime. The source's is named as the migration's own,
/// which making the source read-only leaves be. A cutover run without the follow step before it opens its own.
/// </summary>
internal sealed record SwitchSessions(NpgsqlConnection Source, NpgsqlConnection Target) : IAsyncDisposable
{
    public static async Task<SwitchSessions> OpenAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var options = context.Options;
        var source = await Db.OpenAsync(options.Source.WithApplicationName(HeldMigrationLock.ApplicationName(context.Journal.Id, "cutover")), "source", cancellationToken);
        try
        {
            return new SwitchSessions(source, await Db.OpenAsync(options.Into.Connection, "target", cancellationToken));
        }
        catch
        {
            await source.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Source.DisposeAsync();
        await Target.DisposeAsync();
    }
}
