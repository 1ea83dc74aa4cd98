using System.Collections.Concurrent;
using System.Security.Cryptography;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>
/// Databases shaped like real applications' (RealDatabases/Sql), each made by a superuser and handed to an
/// ordinary login role that owns it, as a provider hands one out: <c>gis</c> (PostGIS with a user SRID, pg_trgm
/// in heroku_ext), <c>billing</c> (the test extension with a user row in its configuration table, 55
/// partitions, an aggregate, large objects), <c>names</c> (identifiers that need quoting everywhere), and
/// <c>unreadable</c> (a table the login role may not read).
/// </summary>
public static class Corpus
{
    public const string Gis = "gis";
    public const string Billing = "billing";
    public const string Names = "names";
    public const string Unreadable = "unreadable";

    /// <summary>The unreadable table of the <c>unreadable</c> database, which <c>check</c> must name.</summary>
    public const string UnreadableTable = "audit.secret_events";

    public static string Sql(string name)
    {
        using var stream = typeof(Corpus).Assembly.GetManifestResourceStream($"RealDatabases.{name}.sql")
            ?? throw new InvalidOperationException($"No corpus script {name}.sql.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Makes database <paramref name="name"/> of the corpus on <paramref name="server"/>.</summary>
    public static async Task<PgConnectionInfo> BuildAsync(PgServer server, string name)
    {
        var db = await server.CreateDatabaseAsync(name);
        if (name == Unreadable)
        {
            await PgServer.ExecuteAsync(db, "CREATE TABLE readable (id int PRIMARY KEY); INSERT INTO readable VALUES (1)");
            await server.ExecuteAsync(db.Database, Sql(Unreadable));
            return db;
        }

        await BuildIntoAsync(server, db, name);
        return db;
    }

    /// <summary>Makes database <paramref name="name"/> of the corpus in the existing database <paramref name="db"/>, owned by its login role.</summary>
    public static async Task BuildIntoAsync(PgServer server, PgConnectionInfo db, string name)
    {
        if (typeof(Corpus).Assembly.GetManifestResourceInfo($"RealDatabases.{name}.superuser.sql") is not null)
        {
            await server.ExecuteAsync(db.Database, Sql(name + ".superuser"));
        }

        await PgServer.ExecuteAsync(db, Sql(name));
    }
}

/// <summary>
/// A provider-like target server: databases cloned from a template in which the superuser pre-installed
/// PostGIS (where the server has it) and hstore in public, pg_trgm in heroku_ext and the test extension in
/// its own schema, each owned by an ordinary login role that is not a superuser.
/// </summary>
public sealed class ProviderTarget(PgServer server, string template, IReadOnlyList<string> extensions)
{
    private static readonly SemaphoreSlim CloneGate = new(1, 1);
    private static int _counter;

    public PgServer Server => server;

    /// <summary>The extensions the provider installed, which no path may drop.</summary>
    public IReadOnlyList<string> Extensions => extensions;

    public static async Task<ProviderTarget> PrepareAsync(PgServer server)
    {
        var template = "provider_template";
        await server.ExecuteAsync("postgres", $"CREATE DATABASE {template}");
        var postgis = await PgServer.ScalarAsync<long>(server.Cluster.Superuser(template), "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'") > 0;
        await server.ExecuteAsync(template, (postgis ? "CREATE EXTENSION postgis;\n" : "") + Corpus.Sql("provider"));
        var extensions = await PgServer.ScalarAsync<string[]>(server.Cluster.Superuser(template), "SELECT array_agg(extname::text ORDER BY extname) FROM pg_extension WHERE extname <> 'plpgsql'");
        return new ProviderTarget(server, template, extensions!);
    }

    /// <summary>A fresh target database as the provider hands it out; returns a connection as its login role.</summary>
    public async Task<PgConnectionInfo> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _counter)}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var role = name + "_owner";
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));
        await server.ExecuteAsync("postgres", $"CREATE ROLE {role} LOGIN PASSWORD '{password}'");
        // A template may have no other session while it is copied.
        await CloneGate.WaitAsync();
        try
        {
            await server.ExecuteAsync("postgres", $"CREATE DATABASE {name} TEMPLATE {template} OWNER {role}");
        }
        finally
        {
            CloneGate.Release();
        }

        await server.ExecuteAsync(name, $"ALTER SCHEMA public OWNER TO {role}");
        var info = server.Cluster.As(role, password, name);
        PgServer.RegisterPassword(info);
        return info;
    }

    /// <summary>Fails unless every extension the provider installed is still there, still the superuser's.</summary>
    public async Task AssertExtensionsInPlaceAsync(PgConnectionInfo target)
    {
        var present = await PgServer.ScalarAsync<string[]>(target, "SELECT array_agg(extname::text ORDER BY extname) FROM pg_extension WHERE extowner = (SELECT oid FROM pg_roles WHERE rolname = 'postgres')");
        var missing = extensions.Except(present ?? []).ToList();
        Assert.True(missing.Count == 0, $"The provider's extensions {string.Join(", ", missing)} are gone from {target.Database} (or no longer the superuser's).");
    }
}

/// <summary>What one archive of a corpus database, dumped by <c>pgrelocate dump</c>, is: its file and the dump's result.</summary>
public sealed record CorpusArchive(string Path, CliResult Dump)
{
    public string FileName => System.IO.Path.GetFileName(Path);

    public void AssertDumped() => Assert.True(Dump.ExitCode == 0, "pgrelocate dump failed: " + Dump);
}

/// <summary>Archives of the corpus, dumped once each, on first use.</summary>
public sealed class CorpusArchives(string folder)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<CorpusArchive>>> _archives = new(StringComparer.Ordinal);

    public Task<CorpusArchive> GetAsync(string name, PgConnectionInfo source, params string[] extra) =>
        _archives.GetOrAdd(name, n => new Lazy<Task<CorpusArchive>>(async () =>
        {
            var path = System.IO.Path.Combine(folder, n + ".dump");
            var dump = await CliRunner.RunAsync(["dump", "--source", CliRunner.Url(source), "--to", path, .. extra], null);
            return new CorpusArchive(path, dump);
        })).Value;
}
