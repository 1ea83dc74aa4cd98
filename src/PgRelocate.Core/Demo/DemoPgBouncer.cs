using System.Net.Sockets;
using System.Security.Cryptography;
using PgRelocate.Clusters;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Tools;

namespace PgRelocate.Demo;

/// <summary>
/// <c>demo --online --pgbouncer</c>: a throwaway PgBouncer (the installed package's binary) on a free port of
/// 127.0.0.1 in front of the demo's source, in transaction pooling, as an application's pooler would be: its
/// <c>[databases]</c> entry <see cref="Entry"/> carries the source's host, port, database and credentials, the
/// application logs in with the source's login (its password in the auth file), and an admin user of its own may
/// PAUSE, RELOAD and RESUME. It runs as a daemon (as the servers' account when this process is root, which
/// PgBouncer refuses to run as) and is stopped by its process id at dispose.
/// </summary>
public sealed class DemoPgBouncer : IAsyncDisposable
{
    /// <summary>The name of the entry the application connects through.</summary>
    public const string Entry = "shop";

    private const string AdminUser = "pgbouncer_admin";
    private static readonly string[] Places = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];

    private readonly string _folder;

    private DemoPgBouncer(string folder, PgConnectionInfo admin, PgConnectionInfo app)
    {
        _folder = folder;
        Admin = admin;
        App = app;
    }

    /// <summary>Its admin console.</summary>
    public PgConnectionInfo Admin { get; }

    /// <summary>The application's connection: the entry, through PgBouncer, with the source's login.</summary>
    public PgConnectionInfo App { get; }

    /// <summary>Its configuration file, whose entry the migration repoints at the target.</summary>
    public string IniFile => Path.Combine(_folder, "pgbouncer.ini");

    /// <summary>PgBouncer's binary; a <see cref="UsageException"/> saying how to install it when there is none.</summary>
    public static string Binary() => Places.Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "pgbouncer"))).FirstOrDefault(File.Exists)
        ?? throw new UsageException("demo --pgbouncer needs PgBouncer, which is not installed: run scripts/setup.sh (or apt-get install pgbouncer), or leave out --pgbouncer.");

    /// <summary>Starts PgBouncer in <paramref name="parent"/>/pgbouncer in front of <paramref name="source"/>.</summary>
    public static async Task<DemoPgBouncer> StartAsync(string parent, PgConnectionInfo source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var binary = Binary();
        var folder = Path.Combine(parent, "pgbouncer");
        Directory.CreateDirectory(folder);
        var port = LocalCluster.FreePort();
        var adminPassword = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var password = source.Get("password") ?? throw new PgRelocateException("The demo's source has no password for PgBouncer's entry.");
        var bouncer = new DemoPgBouncer(
            folder,
            PgConnectionInfo.Parse($"postgres://{AdminUser}:{adminPassword}@127.0.0.1:{port}/pgbouncer?sslmode=disable"),
            PgConnectionInfo.Parse($"postgres://{Uri.EscapeDataString(source.User)}:{Uri.EscapeDataString(password)}@127.0.0.1:{port}/{Entry}?sslmode=disable"));
        var users = Path.Combine(folder, "userlist.txt");
        await File.WriteAllTextAsync(users, $"\"{AdminUser}\" \"{adminPassword}\"\n\"{source.User}\" \"{password.Replace("\"", "\"\"", StringComparison.Ordinal)}\"\n", cancellationToken);
        await File.WriteAllTextAsync(bouncer.IniFile, $"""
            ; The demo's PgBouncer: the application connects through the entry below, which the migration repoints.
            [databases]
            {Entry} = host={source.Host} port={source.Port} dbname={source.Database} user={source.User} password='{password.Replace("'", "''", StringComparison.Ordinal)}'

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {port}
            unix_socket_dir =
            auth_type = scram-sha-256
            auth_file = {users}
            admin_users = {AdminUser}
            pool_mode = transaction
            max_client_conn = 100
            default_pool_size = 10
            logfile = {Path.Combine(folder, "pgbouncer.log")}
            pidfile = {Path.Combine(folder, "pgbouncer.pid")}

            """, cancellationToken);
        File.SetUnixFileMode(bouncer.IniFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetUnixFileMode(users, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        // PgBouncer refuses to run as root: then it runs as the servers' account, which owns its folder.
        var asRoot = Environment.UserName == "root" || Environment.IsPrivilegedProcess;
        if (asRoot)
        {
            await RunAsync("chown", ["-R", "postgres:postgres", folder], cancellationToken);
        }

        await RunAsync(binary, asRoot ? ["-d", "-u", "postgres", bouncer.IniFile] : ["-d", bouncer.IniFile], cancellationToken);
        await bouncer.WaitForListenAsync(port, cancellationToken);
        return bouncer;
    }

    /// <summary>Stops PgBouncer (SIGTERM to the process its pid file names) and leaves its folder to the demo's.</summary>
    public async ValueTask DisposeAsync()
    {
        var pidFile = Path.Combine(_folder, "pgbouncer.pid");
        if (File.Exists(pidFile) && int.TryParse((await File.ReadAllTextAsync(pidFile)).Trim(), out var pid))
        {
            ProcessSignals.Terminate(pid);
        }
    }

    private async Task WaitForListenAsync(int port, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port, cancellationToken);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100, cancellationToken);
            }
        }

        var log = Path.Combine(_folder, "pgbouncer.log");
        var tail = File.Exists(log) ? string.Join(" | ", (await File.ReadAllLinesAsync(log, cancellationToken)).TakeLast(3)) : "no log";
        throw new PgRelocateException($"The demo's PgBouncer did not listen on 127.0.0.1:{port} within 10 seconds: {tail}");
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        var code = await ChildProcess.RunAsync(new ChildProcessSpec(program, args) { StderrLine = line => { lock (errors) { errors.Add(line); } } }, cancellationToken);
        if (code != 0)
        {
            throw new PgRelocateException($"{Path.GetFileName(program)} failed with exit code {code}: {string.Join(" | ", errors.TakeLast(3))}");
        }
    }
}
