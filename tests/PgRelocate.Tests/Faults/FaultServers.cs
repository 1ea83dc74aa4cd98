using System.Diagnostics;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Faults;

/// <summary>A source and a target cluster, and what fault tests share: a small database, a proxied URL, signals, leftovers.</summary>
public sealed class FaultServers : PgServerPair
{
    /// <summary>A database of a few megabytes (so a connection carries enough to be cut or stalled in the middle), with a large object.</summary>
    public async Task<PgConnectionInfo> SourceAsync()
    {
        var db = await Source.CreateDatabaseAsync("fault");
        await PgServer.ExecuteAsync(db, """
            CREATE TABLE items (id int PRIMARY KEY, v text, n float8);
            INSERT INTO items SELECT g, md5(g::text) || md5((g * 3)::text), g / 7.0 FROM generate_series(1, 60000) g;
            CREATE TABLE notes (id serial PRIMARY KEY, item int REFERENCES items, body text);
            INSERT INTO notes (item, body) SELECT 1 + g % 60000, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g;
            CREATE INDEX notes_item ON notes (item);
            SELECT lo_from_bytea(0, 'a large object');
            """);
        return db;
    }

    /// <summary>The URL of <paramref name="db"/> with its port replaced by the proxy's.</summary>
    public static string Through(PgConnectionInfo db, int proxyPort) =>
        CliRunner.Url(db).Replace($"127.0.0.1:{db.Port}/", $"127.0.0.1:{proxyPort}/", StringComparison.Ordinal);

    /// <summary>The environment of a run whose temporary folders go into <paramref name="tmp"/>, so a test can see what it left.</summary>
    public static Dictionary<string, string> InTemp(string tmp) => new()
    {
        ["TMPDIR"] = tmp,
        // The runtime's own diagnostic sockets would live there too: they are not ours to judge.
        ["DOTNET_EnableDiagnostics"] = "0",
    };


    /// <summary>The pg_dump and pg_restore processes working on <paramref name="database"/> (their environment names it), after a short wait for killed ones to go.</summary>
    public static async Task<IReadOnlyList<string>> ChildrenOfAsync(string database)
    {
        List<string> left = [];
        await Eventually.Holds(
            () =>
            {
                left = [];
                foreach (var p in Process.GetProcessesByName("pg_dump").Concat(Process.GetProcessesByName("pg_restore")))
                {
                    try
                    {
                        if (File.ReadAllText($"/proc/{p.Id}/environ").Contains(database, StringComparison.Ordinal)
                            && !File.ReadAllText($"/proc/{p.Id}/stat").Contains(") Z ", StringComparison.Ordinal))
                        {
                            left.Add($"{p.ProcessName} {p.Id}");
                        }
                    }
                    catch (IOException)
                    {
                        // Gone while we looked.
                    }
                }

                return left.Count == 0;
            },
            TimeSpan.FromSeconds(5));
        return left;
    }
}
