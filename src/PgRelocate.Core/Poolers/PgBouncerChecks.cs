using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Tools;

namespace PgRelocate.Poolers;

/// <summary>
/// What a cutover behind PgBouncer needs, checked before anything is changed: the console answers and the login
/// is an admin, the entry exists in the file and in what PgBouncer runs and points at the source, its pool mode
/// lets PAUSE wait for transactions only (not for clients to leave), the file can be rewritten with the previous
/// one kept beside it, and the target accepts the credentials the entry will carry. A failure is a
/// <see cref="UsageException"/>: nothing was changed.
/// </summary>
public static class PgBouncerChecks
{
    /// <param name="target">The target with its password; null for `cutover`, which has none: the following process, which writes the target with those very credentials, checks it has the password.</param>
    /// <returns>One line saying what was found (no secret).</returns>
    public static async Task<string> RunAsync(PgBouncerOptions pgbouncer, PgConnectionInfo source, PgConnectionInfo? target, PgBinaries binaries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pgbouncer);
        ArgumentNullException.ThrowIfNull(source);
        var console = PgBouncerConsole.For(pgbouncer.Admin, binaries);
        var name = pgbouncer.Entry;
        string version;
        IReadOnlyList<IReadOnlyDictionary<string, string>> databases;
        try
        {
            version = (await console.ShowAsync("VERSION", cancellationToken)).FirstOrDefault()?.Values.FirstOrDefault() ?? "PgBouncer";
            await RefuseNonAdminAsync(console, pgbouncer.Admin.User, cancellationToken);
            databases = await console.ShowAsync("DATABASES", cancellationToken);
        }
        catch (PgRelocateException e) when (e is not UsageException)
        {
            throw Refuse(e.Message);
        }

        var running = databases.FirstOrDefault(d => d.GetValueOrDefault("name") == name)
            ?? throw Refuse($"PgBouncer has no database entry '{name}' (it has {Sentences.FirstFew(databases.Select(d => d.GetValueOrDefault("name") ?? "").Where(n => n != "pgbouncer").ToList(), 5)})", "name the entry the application connects through with --pgbouncer-database");

        if (!File.Exists(pgbouncer.IniFile))
        {
            throw Refuse($"--pgbouncer-ini {pgbouncer.IniFile} does not exist", "give the configuration file PgBouncer runs with");
        }

        var entry = PgBouncerIni.Find(await File.ReadAllLinesAsync(pgbouncer.IniFile, cancellationToken), name)
            ?? throw Refuse($"{pgbouncer.IniFile} has no entry '{name}' in its [databases] section", "give the configuration file PgBouncer runs with");
        var (host, port, database) = entry.Server;
        if (!Runs(running, host, port, database))
        {
            throw Refuse($"the entry '{name}' of {pgbouncer.IniFile} ({Where(host, port, database)}) is not the one PgBouncer runs ({Where(running)})", "give the file it runs with, or RELOAD it first");
        }

        if (!SameHost(host, source.Host) || port != source.Port || database != source.Database)
        {
            throw Refuse($"PgBouncer's entry '{name}' points at {Where(host, port, database)}, not at the source ({Where(source.Host, source.Port, source.Database)})", "name the entry of the source's database with --pgbouncer-database");
        }

        var mode = running.GetValueOrDefault("pool_mode") is { Length: > 0 } own ? own
            : (await console.ShowAsync("CONFIG", cancellationToken)).FirstOrDefault(c => c.GetValueOrDefault("key") == "pool_mode")?.GetValueOrDefault("value") ?? "session";
        if (mode == "session")
        {
            throw Refuse(
                $"PgBouncer's entry '{name}' pools by session: PAUSE would wait for every client to disconnect, not for its transaction to end, so the application would not see a short pause",
                "set pool_mode = transaction (or statement) for it, or switch without --pgbouncer");
        }

        RefuseUnwritable(pgbouncer.IniFile);
        if (target is null)
        {
            return $"{version}: entry '{name}' ({mode} pooling) points at the source; {Path.GetFileName(pgbouncer.IniFile)} is writable";
        }

        if (target.Get("password") is null)
        {
            throw Refuse("the target's URL has no password, and PgBouncer's entry must carry the credentials it logs in to the target with", "put the password in --target");
        }

        // The credentials the entry will carry, tried as they will be written.
        try
        {
            await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
        }
        catch (PgRelocateException e)
        {
            throw Refuse($"the target refuses the credentials PgBouncer's entry would carry: {e.Message}");
        }

        return $"{version}: entry '{name}' ({mode} pooling) points at the source; {Path.GetFileName(pgbouncer.IniFile)} is writable";
    }

    /// <summary>
    /// An admin may PAUSE; a statistics user may only SHOW. Asked without changing anything: RESUME of an entry
    /// that does not exist, which the console refuses with "no such database" to an admin and with "admin access
    /// needed" to anyone else.
    /// </summary>
    private static async Task RefuseNonAdminAsync(PgBouncerConsole console, string user, CancellationToken cancellationToken)
    {
        try
        {
            await console.ExecuteAsync("RESUME " + PgBouncerConsole.Quote("pgrelocate probe " + Guid.NewGuid().ToString("N")), cancellationToken);
        }
        catch (PgBouncerRefusedException e) when (e.Error.Contains("admin access needed", StringComparison.Ordinal))
        {
            throw Refuse($"PgBouncer's login '{user}' is not an admin (admin_users): it may read SHOW but not PAUSE, RELOAD or RESUME", "give --pgbouncer a user admin_users names");
        }
        catch (PgBouncerRefusedException e) when (e.Error.Contains("no such database", StringComparison.Ordinal))
        {
        }
    }

    private static void RefuseUnwritable(string file)
    {
        var kept = file + ".pgrelocate-probe-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
            {
            }

            using (new FileStream(kept, FileMode.CreateNew, FileAccess.Write))
            {
            }

            File.Delete(kept);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Refuse($"{file} cannot be rewritten with the previous file kept beside it ({e.Message})", "run as a user that may write the file and its folder");
        }
    }

    /// <summary>Whether a row of SHOW DATABASES runs its entry on that server.</summary>
    internal static bool Runs(IReadOnlyDictionary<string, string> row, string host, int port, string database) =>
        SameHost(host, row.GetValueOrDefault("host") ?? "") && port.ToString(System.Globalization.CultureInfo.InvariantCulture) == row.GetValueOrDefault("port") && database == row.GetValueOrDefault("database");

    /// <summary>The server a row of SHOW DATABASES runs its entry on, for messages.</summary>
    internal static string Where(IReadOnlyDictionary<string, string> row) =>
        Where(row.GetValueOrDefault("host") ?? "", int.TryParse(row.GetValueOrDefault("port"), out var p) ? p : 0, row.GetValueOrDefault("database") ?? "");

    private static string Where(string host, int port, string database) => $"{(host.Length == 0 ? "[socket]" : host)}:{port}/{database}";

    /// <summary>One host written two ways: names compared without case, the loopback's three spellings as one.</summary>
    private static bool SameHost(string a, string b)
    {
        static string Norm(string h) => h.ToLowerInvariant() is "localhost" or "127.0.0.1" or "::1" ? "loopback" : h.ToLowerInvariant();
        return Norm(a) == Norm(b);
    }

    private static UsageException Refuse(string found, string? next = null) =>
        new(Sentences.NothingWasChanged("--pgbouncer: " + found, next is { Length: > 0 } ? char.ToUpperInvariant(next[0]) + next[1..] : null));
}
