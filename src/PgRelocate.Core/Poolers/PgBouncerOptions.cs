using System.Globalization;
using PgRelocate.Connections;

namespace PgRelocate.Poolers;

/// <summary>
/// An online cutover behind PgBouncer (<c>--pgbouncer</c>): its admin console, its configuration file, the
/// <c>[databases]</c> entry the application connects through (repointed at the target at the switch) and how long
/// the switch may wait for the application's running transactions to finish before it gives up.
/// </summary>
public sealed record PgBouncerOptions
{
    /// <summary>How long PAUSE may wait by default for the transactions running through PgBouncer.</summary>
    public static readonly TimeSpan DefaultMaxPause = TimeSpan.FromSeconds(5);

    /// <summary>The admin console (<c>postgres://ADMIN:PW@HOST:PORT/pgbouncer</c>).</summary>
    public required PgConnectionInfo Admin { get; init; }

    /// <summary>PgBouncer's configuration file, whose entry is rewritten (the previous file kept beside it).</summary>
    public required string IniFile { get; init; }

    /// <summary>The <c>[databases]</c> entry's name.</summary>
    public required string Entry { get; init; }

    /// <summary>The longest PAUSE waits for running transactions before the switch gives up and resumes at the source.</summary>
    public TimeSpan MaxPause { get; init; } = DefaultMaxPause;

    /// <summary>What the journal records (no password: the admin URL without it).</summary>
    public void ToJournal(IDictionary<string, string> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options["pgbouncer"] = Admin.ToString();
        options["pgbouncerIni"] = IniFile;
        options["pgbouncerDatabase"] = Entry;
        options["maxPauseSeconds"] = MaxPause.TotalSeconds.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The options a journal recorded, with <paramref name="admin"/> when given (its password), else the recorded
    /// console, whose password libpq's own sources supply; null when the migration was not run behind PgBouncer.
    /// </summary>
    public static PgBouncerOptions? FromJournal(IReadOnlyDictionary<string, string> options, PgConnectionInfo? admin)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.GetValueOrDefault("pgbouncer") is not { Length: > 0 } recorded)
        {
            return null;
        }

        return new PgBouncerOptions
        {
            Admin = admin ?? PgConnectionInfo.Parse(recorded),
            IniFile = options.GetValueOrDefault("pgbouncerIni") ?? "",
            Entry = options.GetValueOrDefault("pgbouncerDatabase") ?? "",
            MaxPause = double.TryParse(options.GetValueOrDefault("maxPauseSeconds"), CultureInfo.InvariantCulture, out var s) ? TimeSpan.FromSeconds(s) : DefaultMaxPause,
        };
    }
}
