using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Migration;
using PgRelocate.Migration.Steps;

namespace PgRelocate.Online.Steps;

/// <summary>
/// The cutover's session on each side. The follow step opens them before the switch starts (before PgBouncer's
/// PAUSE, from which the applications wait), with the read-only step's, all together, and hands them on
/// (<see cref="OpenAheadAsync"/>): opening one, with the driver's read of the database's types, took about 50 ms a
/// side on a loaded source, and three round trips each where the servers are far. The source's is named as the
/// migration's own, which making the source read-only leaves be. A cutover run without the follow step before it
/// opens its own.
/// </summary>
internal sealed record SwitchSessions(NpgsqlConnection Source, NpgsqlConnection Target) : IAsyncDisposable
{
    public static async Task<SwitchSessions> OpenAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var sessions = await Db.OpenTogetherAsync(Openers(context, cancellationToken));
        return new SwitchSessions(sessions[0], sessions[1]);
    }

    /// <summary>Opens the switch's sessions and the read-only step's together, and hands them to those steps.</summary>
    public static async Task OpenAheadAsync(MigrationContext context, CancellationToken cancellationToken)
    {
        var sessions = await Db.OpenTogetherAsync([
            .. Openers(context, cancellationToken),
            () => Db.OpenAsync(context.Options.Source, "source", cancellationToken),
        ]);
        context.HandOff(new SwitchSessions(sessions[0], sessions[1]));
        context.HandOff(new ReadOnlySourceStep.SessionAhead(sessions[2]));
    }

    private static List<Func<Task<NpgsqlConnection>>> Openers(MigrationContext context, CancellationToken cancellationToken) =>
    [
        () => Db.OpenAsync(context.Options.Source.WithApplicationName(HeldMigrationLock.ApplicationName(context.Journal.Id, "cutover")), "source", cancellationToken),
        () => Db.OpenAsync(context.Options.Into.Connection, "target", cancellationToken),
    ];

    /// <summary>
    /// The switch's sessions at the cutover's end: handed on to the way back's capture step, which comes next, when
    /// the target took over with --fallback (behind PgBouncer the application waits until the capture is on, and
    /// opening sessions again is round trips of its wait); else closed.
    /// </summary>
    public sealed class HandedOnOrClosed(SwitchSessions sessions, MigrationContext context) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            if (context.Options.Fallback && context.Journal.SwitchedAt is not null)
            {
                context.HandOff(sessions);
            }
            else
            {
                await sessions.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Source.DisposeAsync();
        await Target.DisposeAsync();
    }
}
