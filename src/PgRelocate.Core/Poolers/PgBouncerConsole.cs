using System.Text;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Tools;

namespace PgRelocate.Poolers;

/// <summary>PgBouncer's console refused a command (its ERROR line, as it said it).</summary>
internal sealed class PgBouncerRefusedException(string command, string error)
    : PgRelocateException($"PgBouncer's console refused {command}: {error}.")
{
    public string Error { get; } = error;
}

/// <summary>
/// PgBouncer's admin console, reached with psql: the console speaks the simple query protocol only, and Npgsql
/// sends every command by the extended protocol (Parse, Bind, Execute), which the console refuses ("extended query
/// protocol not supported by admin console"). psql's <c>-c</c> sends one simple Query; libpq makes the login
/// (SCRAM, TLS) with the child environment the runners use, so the password is never on the command line.
/// </summary>
internal sealed class PgBouncerConsole
{
    private const char Separator = '\u001f';
    private readonly PgConnectionInfo _admin;
    private readonly string _psql;

    private PgBouncerConsole(PgConnectionInfo admin, string psql)
    {
        _admin = admin;
        _psql = psql;
    }

    /// <summary>The console of <paramref name="admin"/>, through the psql beside the newest pg_dump.</summary>
    public static PgBouncerConsole For(PgConnectionInfo admin, PgBinaries binaries)
    {
        ArgumentNullException.ThrowIfNull(admin);
        ArgumentNullException.ThrowIfNull(binaries);
        var psql = Path.Combine(Path.GetDirectoryName(binaries.Newest("pg_dump").Path) ?? ".", "psql");
        return File.Exists(psql)
            ? new PgBouncerConsole(admin, psql)
            : throw new UsageException($"--pgbouncer needs psql, which speaks to PgBouncer's console, and none is installed beside {binaries.Newest("pg_dump").Path}: install PostgreSQL's client.");
    }

    /// <summary>Where the console is, for messages (no password).</summary>
    public string Display => $"PgBouncer's console ({_admin.Display})";

    /// <summary>A name as the console reads it: double-quoted, as PostgreSQL quotes an identifier.</summary>
    public static string Quote(string name) => Db.Ident(name ?? "");

    /// <summary>Runs a SHOW command and returns its rows, each by column name (a NULL as an empty string).</summary>
    public async Task<IReadOnlyList<IReadOnlyDictionary<string, string>>> ShowAsync(string what, CancellationToken cancellationToken) =>
        Rows(await RunAsync(["SHOW " + what], cancellationToken));

    /// <summary>
    /// Runs <paramref name="command"/>, then (unless the console refused it) SHOW <paramref name="what"/> in the same
    /// session: one login instead of two, each a process and a few round trips to the console (with the tool 50 ms
    /// from it, the switch's repointing, RELOAD and RESUME took 0.38 to 0.39 s against 0.49 s as three logins).
    /// </summary>
    /// <param name="login">A login made before (<see cref="LogIn"/>) to run them on; null: one of their own.</param>
    public async Task<IReadOnlyList<IReadOnlyDictionary<string, string>>> ExecuteThenShowAsync(string command, string what, CancellationToken cancellationToken, PgBouncerLogin? login = null) =>
        Rows(await RunAsync([command, "SHOW " + what], login, cancellationToken));

    /// <summary>A SHOW's output (psql's unaligned rows under their header) by column name.</summary>
    private static IReadOnlyList<IReadOnlyDictionary<string, string>> Rows(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0)
        {
            return [];
        }

        var header = lines[0].Split(Separator);
        return lines.Skip(1).Select(l =>
        {
            var values = l.Split(Separator);
            return (IReadOnlyDictionary<string, string>)header.Select((h, i) => (h, v: i < values.Length ? values[i] : "")).ToDictionary(p => p.h, p => p.v, StringComparer.Ordinal);
        }).ToList();
    }

    /// <summary>Runs a command (PAUSE, RESUME, RELOAD); the console's refusal is thrown as <see cref="PgBouncerRefusedException"/>.</summary>
    /// <param name="login">A login made before (<see cref="LogIn"/>) to run it on; null: one of its own.</param>
    public Task ExecuteAsync(string command, CancellationToken cancellationToken, PgBouncerLogin? login = null) =>
        RunAsync([command], login, cancellationToken);

    /// <summary>
    /// A login to the console made now, its commands given later: psql logs in and waits for them on its input, so
    /// that they then cost only their own round trips (the switch's RELOAD and RESUME, see PgBouncerSwitch).
    /// Disposed unused, psql reads the end of its input and leaves.
    /// </summary>
    public PgBouncerLogin LogIn() => new(this);

    /// <summary>Runs <paramref name="commands"/> on <paramref name="login"/>, or on a login of their own when null.</summary>
    private Task<string> RunAsync(IReadOnlyList<string> commands, PgBouncerLogin? login, CancellationToken cancellationToken) =>
        login?.RunAsync(commands, cancellationToken) ?? RunAsync(commands, cancellationToken);

    /// <summary>Runs <paramref name="commands"/> in one session, in order, each a simple Query; the first refused ends it.</summary>
    internal Task<string> RunAsync(IReadOnlyList<string> commands, CancellationToken cancellationToken) =>
        RunAsync([.. commands.SelectMany(c => new[] { "-c", c })], null, () => string.Join(" then ", commands), cancellationToken);

    /// <summary>psql on the console with <paramref name="arguments"/> (its commands, or its input's); <paramref name="commands"/> names them in a refusal.</summary>
    internal async Task<string> RunAsync(IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? input, Func<string> commands, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        var output = new StringBuilder();
        var spec = new ChildProcessSpec(_psql, ["-X", "-q", "-w", "-A", "-F", Separator.ToString(), "-P", "footer=off", "-v", "ON_ERROR_STOP=1", .. arguments])
        {
            Environment = _admin.ToLibpqEnvironment(),
            Stdin = input,
            StderrLine = line => { lock (errors) { errors.Add(_admin.Scrub(line)); } },
            Stdout = async (stream, ct) =>
            {
                using var reader = new StreamReader(stream, leaveOpen: true);
                output.Append(await reader.ReadToEndAsync(ct));
            },
        };
        var exit = await ChildProcess.RunAsync(spec, cancellationToken);
        var stderr = string.Join(" ", errors).Trim();
        if (exit == 0 && stderr.Length == 0)
        {
            return output.ToString();
        }

        if (stderr.Contains("ERROR:", StringComparison.Ordinal) && exit != 2)
        {
            throw new PgBouncerRefusedException(commands(), stderr[(stderr.IndexOf("ERROR:", StringComparison.Ordinal) + 6)..].Trim().TrimEnd('.'));
        }

        throw Unreachable(stderr);
    }

    private PgRelocateException Unreachable(string stderr)
    {
        if (stderr.Contains("SASL authentication failed", StringComparison.Ordinal) || stderr.Contains("password authentication failed", StringComparison.Ordinal))
        {
            return new PgRelocateException($"{Display} refused the login of '{_admin.User}': check the user and password of --pgbouncer.");
        }

        var cut = stderr.IndexOf("FATAL:", StringComparison.Ordinal);
        var text = (cut >= 0 ? stderr[cut..] : stderr.Replace("psql: error: ", "", StringComparison.Ordinal)).Trim().TrimEnd('.');
        return new PgRelocateException($"{Display} does not answer: {(text.Length > 300 ? text[..300] + "..." : text)}. Check --pgbouncer's host, port and that its database is pgbouncer.");
    }
}

/// <summary>
/// A login to PgBouncer's console made ahead of its commands (<see cref="PgBouncerConsole.LogIn"/>): psql reading its
/// script from its input, which <see cref="RunAsync"/> gives, once. A login lost before or while it ran them (the
/// console gone, or ending idle clients) runs them once more on a login of their own: RELOAD, SHOW and RESUME may
/// run twice.
/// </summary>
internal sealed class PgBouncerLogin : IAsyncDisposable
{
    private readonly PgBouncerConsole _console;
    private readonly TaskCompletionSource<IReadOnlyList<string>> _script = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task<string> _run;

    internal PgBouncerLogin(PgBouncerConsole console)
    {
        _console = console;
        _run = console.RunAsync(["-f", "-"], WriteAsync, () => string.Join(" then ", _script.Task.IsCompletedSuccessfully ? _script.Task.Result : []), CancellationToken.None);
    }

    /// <summary>Runs <paramref name="commands"/> on this login (each its own simple Query, in order); their output.</summary>
    public async Task<string> RunAsync(IReadOnlyList<string> commands, CancellationToken cancellationToken)
    {
        if (!_script.TrySetResult(commands))
        {
            throw new InvalidOperationException("A console login runs one script.");
        }

        try
        {
            return await _run.WaitAsync(cancellationToken);
        }
        catch (PgRelocateException e) when (e is not PgBouncerRefusedException)
        {
            return await _console.RunAsync(commands, cancellationToken);
        }
    }

    private async Task WriteAsync(Stream input, CancellationToken cancellationToken)
    {
        var commands = await _script.Task;
        var script = Encoding.UTF8.GetBytes(string.Concat(commands.Select(c => c + ";\n")));
        await input.WriteAsync(script, cancellationToken);
    }

    /// <summary>Ends the login: unused, psql reads the end of its input and leaves; its failure is no one's now.</summary>
    public async ValueTask DisposeAsync()
    {
        _script.TrySetResult([]);
        try
        {
            await _run;
        }
        catch (Exception e) when (e is PgRelocateException or IOException or InvalidOperationException)
        {
            // Unused, or used and its failure already reported.
        }
    }
}
