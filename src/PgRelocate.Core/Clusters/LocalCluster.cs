using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Tools;

namespace PgRelocate.Clusters;

/// <summary>How to make a throwaway cluster.</summary>
public sealed record LocalClusterOptions
{
    /// <summary>The folder holding initdb, pg_ctl and postgres; null: the newest installed server.</summary>
    public string? ServerBinDir { get; init; }

    /// <summary>The folder in which the cluster's own temporary folder is made; null: the system's temp folder.</summary>
    public string? ParentDir { get; init; }

    /// <summary>Extra postgresql.conf settings.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>pg_hba.conf lines put before initdb's, so they match first (TLS and client certificate rules).</summary>
    public IReadOnlyList<string> HbaLines { get; init; } = [];

    /// <summary>Files written into the data folder, readable by the server alone (a TLS key and certificates).</summary>
    public IReadOnlyDictionary<string, string> DataFiles { get; init; } = new Dictionary<string, string>();

    public string Locale { get; init; } = "C.UTF-8";

    public string Encoding { get; init; } = "UTF8";

    /// <summary>A name for the folder and log lines ("source", "target").</summary>
    public string Name { get; init; } = "cluster";
}

/// <summary>
/// A PostgreSQL cluster made with initdb and pg_ctl in a temporary folder, on a free port of 127.0.0.1,
/// with password (scram-sha-256) authentication only. The demo and the tests use it; disposing it stops
/// the server and deletes the folder. Durability is switched off: the data is thrown away anyway.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private static readonly HashSet<int> PortsHandedOut = [];
    private static readonly Lock PortLock = new();

    private readonly string _binDir;
    private readonly string? _runAs;
    private readonly string _superPassword;
    private bool _stopped;

    private LocalCluster(string root, string binDir, string? runAs, int port, string superPassword, int majorVersion, string name)
    {
        RootDir = root;
        _binDir = binDir;
        _runAs = runAs;
        Port = port;
        _superPassword = superPassword;
        MajorVersion = majorVersion;
        Name = name;
    }

    public string RootDir { get; }

    public string DataDir => Path.Combine(RootDir, "data");

    public string LogFile => Path.Combine(RootDir, "server.log");

    public int Port { get; }

    public int MajorVersion { get; }

    public string Name { get; }

    public const string SuperuserName = "postgres";

    /// <summary>Keep the folder when disposed (the demo's --keep).</summary>
    public bool Keep { get; set; }

    /// <summary>A superuser connection to <paramref name="database"/> over TCP with a password.</summary>
    public PgConnectionInfo Superuser(string database = "postgres") =>
        PgConnectionInfo.Parse($"postgres://{SuperuserName}@127.0.0.1:{Port}/{database}?sslmode=disable", EmptyEnvironment)
            .WithCredentials(SuperuserName, _superPassword);

    /// <summary>A connection as another role of this cluster.</summary>
    public PgConnectionInfo As(string user, string password, string database) =>
        PgConnectionInfo.Parse($"postgres://127.0.0.1:{Port}/{Uri.EscapeDataString(database)}?sslmode=disable", EmptyEnvironment)
            .WithCredentials(user, password);

    public static async Task<LocalCluster> StartAsync(LocalClusterOptions options, CancellationToken cancellationToken)
    {
        var binDir = options.ServerBinDir ?? ServerBinaries.Newest();
        var runAs = Environment.UserName == "root" || Environment.IsPrivilegedProcess ? ServerAccount() : null;
        var template = await TemplateAsync(binDir, options, runAs);
        var parent = options.ParentDir ?? Path.GetTempPath();
        var root = Path.Combine(parent, $"pgrelocate-{options.Name}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        Directory.CreateDirectory(root);
        Directory.CreateDirectory(Path.Combine(root, "sock"));
        if (runAs is not null)
        {
            await RunAsync("chown", ["-R", runAs, root], null, cancellationToken);
        }

        try
        {
            // As this process's user: the copy keeps the files' owner (the server's account when that is root).
            await RunAsync("cp", ["-a", template.DataDir, Path.Combine(root, "data")], null, cancellationToken);
            SystemIdentifier.Write(Path.Combine(root, "data"), SystemIdentifier.NewValue());
            await WriteAccessFilesAsync(Path.Combine(root, "data"), options, runAs, cancellationToken);
            var version = ServerBinaries.MajorVersionOf(binDir);

            // Another process may take the port between our probe and the server's bind: then another, at once.
            LocalCluster? cluster = null;
            return await TryAgain.TimesAsync(
                4,
                e => e is PgRelocateException && cluster is not null && PortInUse(cluster.LogFile),
                async ct =>
                {
                    cluster = new LocalCluster(root, binDir, runAs, FreePort(), template.Password, version, options.Name);
                    await cluster.WriteConfigAsync(options.Settings, ct);
                    await RunAsync(Path.Combine(binDir, "pg_ctl"), ["-D", cluster.DataDir, "-l", cluster.LogFile, "-w", "-t", "60", "start"], runAs, ct);
                    return cluster;
                },
                cancellationToken,
                TimeSpan.Zero);
        }
        catch
        {
            TryDelete(root);
            throw;
        }
    }

    /// <summary>initdb's output for a server, an encoding and a locale, with its superuser's password.</summary>
    private sealed record Template(string DataDir, string Password);

    /// <summary>
    /// The templates this process made: initdb runs once for each server, encoding and locale, and each cluster
    /// starts from a copy of its output with a system identifier of its own (see <see cref="SystemIdentifier"/>), as
    /// if initdb had made it. initdb took about a core-second, the copy a tenth of that; the tests start hundreds.
    /// </summary>
    private static readonly ConcurrentDictionary<(string BinDir, string Encoding, string Locale), Lazy<Task<Template>>> Templates = new();

    private static async Task<Template> TemplateAsync(string binDir, LocalClusterOptions options, string? runAs)
    {
        var key = (binDir, options.Encoding, options.Locale);
        var made = Templates.GetOrAdd(key, k => new Lazy<Task<Template>>(() => MakeTemplateAsync(k.BinDir, k.Encoding, k.Locale, runAs)));
        try
        {
            return await made.Value;
        }
        catch
        {
            // A failed initdb is reported to each caller that waited for it; the next one tries again.
            Templates.TryRemove(new KeyValuePair<(string, string, string), Lazy<Task<Template>>>(key, made));
            throw;
        }
    }

    /// <summary>
    /// Runs initdb into a temporary folder that lives as long as this process (deleted when it ends or is stopped,
    /// swept by a later one if it was killed).
    /// </summary>
    private static async Task<Template> MakeTemplateAsync(string binDir, string encoding, string locale, string? runAs)
    {
        var folder = Interrupts.TempFolder("pgrelocate-template-").FullName;
        var data = Path.Combine(folder, "data");
        // The files first, the folder's lock last: a process killed while it deletes them (a test host can be) leaves a
        // folder the next sweep recognises as abandoned.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            TryDelete(data);
            Interrupts.DeleteTempFolder(folder);
        };
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var pwfile = Path.Combine(folder, "pw");
        await File.WriteAllTextAsync(pwfile, password + "\n", CancellationToken.None);
        if (runAs is not null)
        {
            await RunAsync("chown", ["-R", runAs, folder], null, CancellationToken.None);
        }

        await RunAsync(Path.Combine(binDir, "initdb"), [
            "-D", data, "-U", SuperuserName, "--pwfile", pwfile, "-A", "scram-sha-256", "-E", encoding, "--locale", locale, "--no-sync",
        ], runAs, CancellationToken.None);
        File.Delete(pwfile);
        return new Template(data, password);
    }

    /// <summary>Runs SQL as the superuser in <paramref name="database"/>.</summary>
    public async Task ExecuteAsync(string sql, string database = "postgres", CancellationToken cancellationToken = default)
    {
        await using var conn = await Db.OpenAsync(Superuser(database), Name, cancellationToken);
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Creates a login role that is not a superuser and a database it owns, as a managed provider hands out,
    /// and returns a connection as that role.
    /// </summary>
    public async Task<PgConnectionInfo> CreateDatabaseAsync(string database, string owner, CancellationToken cancellationToken = default)
    {
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));
        var role = Quote(owner);
        await ExecuteAsync(
            CatalogSql.Load("Clusters/LoginRole.sql", new Dictionary<string, string>
            {
                ["role"] = role,
                ["role_name"] = Literal(owner),
                ["password"] = Literal(password),
            }),
            cancellationToken: cancellationToken);
        await ExecuteAsync($"CREATE DATABASE {Quote(database)} OWNER {role}", cancellationToken: cancellationToken);
        // PostgreSQL 15 no longer lets everyone create in public; the owner of the database owns its schema.
        await ExecuteAsync($"ALTER SCHEMA public OWNER TO {role}", database, cancellationToken);
        return As(owner, password, database);
    }

    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        try
        {
            await RunAsync(Path.Combine(_binDir, "pg_ctl"), ["-D", DataDir, "-m", "immediate", "-w", "stop"], _runAs, CancellationToken.None);
        }
        catch (PgRelocateException)
        {
            // Already stopped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (!Keep)
        {
            TryDelete(RootDir);
        }
    }

    private async Task WriteConfigAsync(IReadOnlyDictionary<string, string> extra, CancellationToken cancellationToken)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["port"] = Port.ToString(CultureInfo.InvariantCulture),
            ["listen_addresses"] = "'127.0.0.1'",
            ["unix_socket_directories"] = $"'{Path.Combine(RootDir, "sock")}'",
            ["fsync"] = "off",
            ["synchronous_commit"] = "off",
            ["full_page_writes"] = "off",
            ["max_connections"] = "60",
            ["shared_buffers"] = "128MB",
            ["max_wal_size"] = "2GB",
            ["logging_collector"] = "off",
        };
        foreach (var (k, v) in extra)
        {
            settings[k] = v;
        }

        var lines = settings.Select(s => $"{s.Key} = {s.Value}");
        // A file the server reads after postgresql.conf: later lines win, and a retry rewrites it whole.
        var path = Path.Combine(DataDir, "pgrelocate.conf");
        await File.WriteAllLinesAsync(path, lines, cancellationToken);
        var main = Path.Combine(DataDir, "postgresql.conf");
        var text = await File.ReadAllTextAsync(main, cancellationToken);
        if (!text.Contains("include_if_exists = 'pgrelocate.conf'", StringComparison.Ordinal))
        {
            await File.AppendAllTextAsync(main, "\ninclude_if_exists = 'pgrelocate.conf'\n", cancellationToken);
        }

        if (_runAs is not null)
        {
            await RunAsync("chown", [_runAs, path], null, cancellationToken);
        }
    }

    private static async Task WriteAccessFilesAsync(string dataDir, LocalClusterOptions options, string? runAs, CancellationToken cancellationToken)
    {
        foreach (var (name, contents) in options.DataFiles)
        {
            var path = Path.Combine(dataDir, name);
            await File.WriteAllTextAsync(path, contents, cancellationToken);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            if (runAs is not null)
            {
                await RunAsync("chown", [runAs, path], null, cancellationToken);
            }
        }

        if (options.HbaLines.Count > 0)
        {
            var hba = Path.Combine(dataDir, "pg_hba.conf");
            await File.WriteAllTextAsync(hba, string.Join('\n', options.HbaLines) + "\n" + await File.ReadAllTextAsync(hba, cancellationToken), cancellationToken);
        }
    }

    /// <summary>A free port of 127.0.0.1, never handed out twice by this process.</summary>
    internal static int FreePort()
    {
        lock (PortLock)
        {
            while (true)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                if (PortsHandedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }

    private static bool PortInUse(string logFile) =>
        File.Exists(logFile) && File.ReadAllText(logFile).Contains("Address already in use", StringComparison.Ordinal);

    private static string? ServerAccount()
    {
        // initdb and postgres refuse to run as root. Debian's server package creates this account.
        const string account = "postgres";
        if (!File.ReadLines("/etc/passwd").Any(l => l.StartsWith(account + ":", StringComparison.Ordinal)))
        {
            throw new PgRelocateException(
                "A local cluster cannot run as root and there is no 'postgres' account: install postgresql-15 (apt-get install postgresql-15) or run as an ordinary user.");
        }

        return account;
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> args, string? runAs, CancellationToken cancellationToken)
    {
        var spec = runAs is null
            ? new ChildProcessSpec(program, args)
            : new ChildProcessSpec("runuser", ["-u", runAs, "--", program, .. args]);
        var output = new List<string>();
        spec = spec with
        {
            StderrLine = line => { lock (output) { output.Add(line); } },
            Stdout = async (s, ct) =>
            {
                using var reader = new StreamReader(s, leaveOpen: true);
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    lock (output)
                    {
                        output.Add(line);
                    }
                }
            },
        };
        var code = await ChildProcess.RunAsync(spec, cancellationToken);
        if (code != 0)
        {
            var tail = string.Join(" | ", output.TakeLast(3));
            throw new PgRelocateException($"{Path.GetFileName(program)} failed with exit code {code}: {tail}");
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (IOException)
        {
            // Left for the system's temp cleanup.
        }
        catch (UnauthorizedAccessException)
        {
            // Left for the system's temp cleanup.
        }
    }

    internal static string Quote(string identifier) => Db.Ident(identifier);

    internal static string Literal(string value) => Db.Literal(value);

    private static readonly IReadOnlyDictionary<string, string?> EmptyEnvironment = new Dictionary<string, string?>();
}
