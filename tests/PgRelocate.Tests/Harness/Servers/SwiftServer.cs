using System.Globalization;
using System.Text;

namespace PgRelocate.Tests.Harness.Servers;

/// <summary>
/// A single-node OpenStack Swift with its s3api middleware (the strict S3 peer: SigV4, presigned URLs,
/// expiry, multipart with a 5 MiB minimum part), plus memcached, on 127.0.0.1 free ports, in a temporary
/// folder; stopped and deleted afterwards. Needs the Debian packages scripts/setup.sh installs.
/// </summary>
public sealed class SwiftServer : IAsyncLifetime, IS3Server
{
    // Swift is installed for the system Python; the python3 first on PATH may not import it.
    private const string Python = "/usr/bin/python3";
    private readonly List<ServerProcess> _processes = [];
    private readonly TempDir _dir = new();

    public string Endpoint { get; private set; } = "";

    public int Port { get; private set; }

    public string AccessKey { get; } = "test:tester";

    public string SecretKey { get; } = "swift-" + Guid.NewGuid().ToString("N")[..16];

    public bool ChecksSignatures => true;

    public int MinPartSize => 5 << 20;

    public async Task InitializeAsync()
    {
        Secrets.Register(SecretKey);
        var ports = Enumerable.Range(0, 5).Select(_ => ServerProcess.FreePort()).Distinct().ToArray();
        if (ports.Length < 5)
        {
            ports = Enumerable.Range(0, 5).Select(_ => ServerProcess.FreePort()).ToArray();
        }

        var (proxy, account, container, obj, memcached) = (ports[0], ports[1], ports[2], ports[3], ports[4]);
        Port = proxy;
        Endpoint = $"http://127.0.0.1:{proxy}";
        var etc = Directory.CreateDirectory(_dir.File("etc")).FullName;
        var srv = Directory.CreateDirectory(_dir.File("srv/d1")).Parent!.FullName;
        var cache = Directory.CreateDirectory(_dir.File("cache")).FullName;
        var logs = Directory.CreateDirectory(_dir.File("log")).FullName;
        var user = Environment.UserName;

        string Common(int port, string name) => $"""
            [DEFAULT]
            bind_ip = 127.0.0.1
            bind_port = {port}
            workers = 0
            user = {user}
            swift_dir = {etc}
            devices = {srv}
            mount_check = false
            log_name = {name}
            log_level = WARNING
            log_address = {_dir.File("no-syslog")}
            recon_cache_path = {cache}

            """;
        foreach (var (kind, port) in new[] { ("account", account), ("container", container), ("object", obj) })
        {
            await File.WriteAllTextAsync(Path.Combine(etc, $"{kind}-server.conf"), Common(port, kind + "-server") + $"""
                [pipeline:main]
                pipeline = healthcheck {kind}-server

                [app:{kind}-server]
                use = egg:swift#{kind}

                [filter:healthcheck]
                use = egg:swift#healthcheck

                """);
        }

        await File.WriteAllTextAsync(Path.Combine(etc, "proxy-server.conf"), $"""
            [DEFAULT]
            bind_ip = 127.0.0.1
            bind_port = {proxy}
            workers = 0
            user = {user}
            swift_dir = {etc}
            log_name = proxy-server
            log_level = WARNING
            log_address = {_dir.File("no-syslog")}

            [pipeline:main]
            pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

            [app:proxy-server]
            use = egg:swift#proxy
            account_autocreate = true
            allow_account_management = false

            [filter:s3api]
            use = egg:swift#s3api
            location = us-east-1
            dns_compliant_bucket_names = true
            s3_acl = false

            [filter:tempauth]
            use = egg:swift#tempauth
            reseller_prefix = AUTH_
            user_test_tester = {SecretKey} .admin

            [filter:cache]
            use = egg:swift#memcache
            memcache_servers = 127.0.0.1:{memcached}

            [filter:catch_errors]
            use = egg:swift#catch_errors
            [filter:gatekeeper]
            use = egg:swift#gatekeeper
            [filter:healthcheck]
            use = egg:swift#healthcheck
            [filter:proxy-logging]
            use = egg:swift#proxy_logging
            [filter:listing_formats]
            use = egg:swift#listing_formats
            [filter:bulk]
            use = egg:swift#bulk
            [filter:tempurl]
            use = egg:swift#tempurl
            [filter:copy]
            use = egg:swift#copy
            [filter:slo]
            use = egg:swift#slo
            [filter:dlo]
            use = egg:swift#dlo
            [filter:versioned_writes]
            use = egg:swift#versioned_writes

            """);

        // One replica, one device per ring: what swift-ring-builder create/add/rebalance does, in one process.
        var rings = _dir.File("rings.py");
        await File.WriteAllTextAsync(rings, """
            import os, sys
            from swift.common.ring import RingBuilder
            d = sys.argv[1]
            for kind, port in zip(('account', 'container', 'object'), sys.argv[2:5]):
                b = RingBuilder(8, 1, 0)
                b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port),
                           'replication_ip': '127.0.0.1', 'replication_port': int(port),
                           'device': 'd1', 'weight': 100, 'meta': ''})
                b.rebalance()
                b.get_ring().save(os.path.join(d, kind + '.ring.gz'))
            """.Replace("\r", "", StringComparison.Ordinal));
        using (var ringProcess = ServerProcess.Start("rings", logs, Python, rings, etc, Str(account), Str(container), Str(obj)))
        {
            await Eventually.Holds(() => ringProcess.HasExited, TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(50));
        }

        if (!File.Exists(Path.Combine(etc, "object.ring.gz")))
        {
            throw new InvalidOperationException("Swift rings were not built: " + await File.ReadAllTextAsync(Path.Combine(logs, "rings.log")));
        }

        var mcArgs = new List<string> { "-l", "127.0.0.1", "-p", Str(memcached), "-U", "0", "-m", "32" };
        if (user == "root")
        {
            mcArgs.AddRange(["-u", "nobody"]);
        }

        _processes.Add(ServerProcess.Start("memcached", logs, "/usr/bin/memcached", [.. mcArgs]));
        foreach (var kind in new[] { "account", "container", "object", "proxy" })
        {
            _processes.Add(ServerProcess.Start(kind, logs, Python, $"/usr/bin/swift-{kind}-server", Path.Combine(etc, $"{kind}-server.conf")));
        }

        foreach (var port in new[] { account, container, obj, proxy })
        {
            await ServerProcess.WaitForHttpAsync($"http://127.0.0.1:{port}/healthcheck", _processes);
        }
    }

    public Task DisposeAsync()
    {
        foreach (var p in _processes)
        {
            p.Dispose();
        }

        _dir.Dispose();
        return Task.CompletedTask;
    }

    private static string Str(int n) => n.ToString(CultureInfo.InvariantCulture);
}
