using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using PgRelocate.Connections;

namespace PgRelocate.Tests.Harness.Servers;

/// <summary>
/// A real PgBouncer (Debian's package) on a free 127.0.0.1 port in front of one database of a harness server:
/// its <c>[databases]</c> entry <see cref="Entry"/> carries the backend's host, port, database and credentials,
/// clients log in by SCRAM against an auth file, the admin console has an admin (<see cref="Admin"/>) and a
/// statistics user (<see cref="Stats"/>). Stopped, and its folder removed, at dispose.
/// </summary>
public sealed class PgBouncerServer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/pgbouncer";
    private const string AdminUser = "pgb_admin";
    private const string StatsUser = "pgb_stats";
    private const string AppUser = "pgb_app";

    private readonly TempDir _dir = new();
    private readonly string _adminPassword = Secret();
    private readonly string _appPassword = Secret();
    private ServerProcess? _process;

    private PgBouncerServer(string entry) => Entry = entry;

    /// <summary>True when the package is installed (scripts/setup.sh installs it).</summary>
    public static bool Installed => File.Exists(Binary);

    /// <summary>The name of the <c>[databases]</c> entry the application connects to.</summary>
    public string Entry { get; }

    public int Port { get; private set; }

    /// <summary>PgBouncer's configuration file (readable by its own account only, as packaged setups keep it).</summary>
    public string IniFile => _dir.File("pgbouncer.ini");

    public string LogFile => _dir.File("pgbouncer.log");

    /// <summary>The admin console as an admin user.</summary>
    public PgConnectionInfo Admin => PgConnectionInfo.Parse($"postgresql://{AdminUser}:{_adminPassword}@127.0.0.1:{Port}/pgbouncer");

    /// <summary>The admin console as a statistics user (SHOW only), with the admin's password set for it in the auth file.</summary>
    public PgConnectionInfo Stats => PgConnectionInfo.Parse($"postgresql://{StatsUser}:{_adminPassword}@127.0.0.1:{Port}/pgbouncer");

    /// <summary>The application's connection: the entry, through PgBouncer.</summary>
    public PgConnectionInfo App => PgConnectionInfo.Parse($"postgresql://{AppUser}:{_appPassword}@127.0.0.1:{Port}/{Entry}");

    /// <summary>The application's password, for pgbench's environment.</summary>
    public string AppPassword => _appPassword;

    /// <summary>Starts PgBouncer with <paramref name="poolMode"/> and the entry <paramref name="entry"/> pointing at <paramref name="backend"/>.</summary>
    public static async Task<PgBouncerServer> StartAsync(PgConnectionInfo backend, string entry, string poolMode = "transaction")
    {
        ArgumentNullException.ThrowIfNull(backend);
        var server = new PgBouncerServer(entry);
        try
        {
            await server.StartAsync(backend, poolMode);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The entry's line in the configuration file as it is now (the server's connection string).</summary>
    public string EntryLine() => File.ReadLines(IniFile).Select(l => l.Trim()).First(l => l.StartsWith(Entry + " ", StringComparison.Ordinal) || l.StartsWith(Entry + "=", StringComparison.Ordinal));

    private async Task StartAsync(PgConnectionInfo backend, string poolMode)
    {
        Secrets.Register(_adminPassword);
        Secrets.Register(_appPassword);
        Port = ServerProcess.FreePort();
        var password = backend.Get("password") ?? throw new InvalidOperationException("The backend's connection has no password.");
        // Clients log in by SCRAM. The console's users have SCRAM secrets; the application's user a plain password:
        // with a SCRAM secret, PgBouncer before 1.25's fix logs in to the server with the client's keys in place of
        // an entry's user= and password= (its issues 944 and 1461), so that entry could not log in at all.
        File.WriteAllText(_dir.File("userlist.txt"), string.Join('\n',
            $"\"{AdminUser}\" \"{ScramSecret(_adminPassword)}\"",
            $"\"{StatsUser}\" \"{ScramSecret(_adminPassword)}\"",
            $"\"{AppUser}\" \"{_appPassword}\"") + "\n");
        File.WriteAllText(IniFile, $"""
            ; A test's PgBouncer: the entry below is the one a migration repoints.
            [databases]
            {Entry} = host={backend.Host} port={backend.Port} dbname={backend.Database} user={backend.User} password={password}

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {Port}
            unix_socket_dir =
            auth_type = scram-sha-256
            auth_file = {_dir.File("userlist.txt")}
            admin_users = {AdminUser}
            stats_users = {StatsUser}
            pool_mode = {poolMode}
            max_client_conn = 200
            default_pool_size = 20
            ignore_startup_parameters = extra_float_digits
            logfile = {LogFile}
            pidfile = {_dir.File("pgbouncer.pid")}

            """);
        File.SetUnixFileMode(IniFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetUnixFileMode(_dir.File("userlist.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        // PgBouncer refuses to run as root: as root, it runs as the postgres account (-u), which owns its files.
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            using var chown = Process.Start("chown", ["-R", "postgres:postgres", _dir.Path])!;
            await chown.WaitForExitAsync();
        }

        _process = asRoot
            ? ServerProcess.Start("pgbouncer-output", _dir.Path, Binary, "-u", "postgres", IniFile)
            : ServerProcess.Start("pgbouncer-output", _dir.Path, Binary, IniFile);
        await Eventually.True(
            async () =>
            {
                if (_process.HasExited)
                {
                    Assert.Fail("PgBouncer exited during start-up: " + Tail());
                }

                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync("127.0.0.1", Port);
                    return true;
                }
                catch (SocketException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            "PgBouncer did not listen in time.");
    }

    /// <summary>Whether PgBouncer holds the entry paused, as its console's SHOW DATABASES says (read with psql: the console speaks the simple protocol only).</summary>
    public async Task<bool> PausedAsync()
    {
        var bin = PgRelocate.Clusters.ServerBinaries.Find(15) ?? PgRelocate.Clusters.ServerBinaries.Newest();
        var psi = new ProcessStartInfo(Path.Combine(bin, "psql"), ["-X", "-A", "-F", "|", "-P", "footer=off", "-c", "SHOW DATABASES"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in Admin.ToLibpqEnvironment())
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var lines = (await p.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var error = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, error);
        var header = lines[0].Split('|').ToList();
        var row = lines.Skip(1).Select(l => l.Split('|')).Single(r => r[0] == Entry);
        return row[header.IndexOf("paused")] == "1";
    }

    /// <summary>PgBouncer's log and its own output, the last lines.</summary>
    public string Tail()
    {
        var lines = new List<string>();
        foreach (var file in new[] { LogFile, _dir.File("pgbouncer-output.log") })
        {
            if (File.Exists(file))
            {
                lines.AddRange(File.ReadLines(file).TakeLast(20));
            }
        }

        return string.Join('\n', lines);
    }

    public ValueTask DisposeAsync()
    {
        _process?.Dispose();
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string Secret() => "pw" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();

    /// <summary>A SCRAM-SHA-256 secret as PostgreSQL stores it (RFC 5802: salted password, stored key, server key).</summary>
    private static string ScramSecret(string password)
    {
        const int iterations = 4096;
        var salt = RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var storedKey = SHA256.HashData(clientKey);
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return $"SCRAM-SHA-256${iterations}:{Convert.ToBase64String(salt)}${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}";
    }
}
