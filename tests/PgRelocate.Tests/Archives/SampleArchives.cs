using System.Diagnostics;
using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Archives;

/// <summary>
/// Real pg_dump archives of a database whose names need quoting (spaces, a dot and a double quote, a line
/// break, non-ASCII letters, 63 bytes, a keyword), with an index, constraints, a sequence, a function, an
/// aggregate, large objects and an extension, dumped from PostgreSQL 15 and 12 by this machine's pg_dump, to
/// a file (with data offsets) and to a pipe (without), compressed and not.
/// </summary>
public sealed class SampleArchives : IAsyncLifetime
{
    /// <summary>The test classes that share one set of archives (and its two clusters).</summary>
    public const string Collection = "Sample archives";

    public const string PgBin = "/usr/lib/postgresql/15/bin";

    private readonly PgServer _pg15 = new();
    private readonly Pg12Server _pg12 = new();
    private readonly TempDir _dir = new();

    public static readonly string LongName = new('n', 63);

    public PgConnectionInfo Source15 { get; private set; } = null!;

    public PgConnectionInfo Source12 { get; private set; } = null!;

    /// <summary>name: "15-file-z0", "15-pipe-default", "12-file-default", ...; value: the archive's path.</summary>
    public Dictionary<string, string> Archives { get; } = new(StringComparer.Ordinal);

    public string Folder => _dir.Path;

    public async Task InitializeAsync()
    {
        await Task.WhenAll(_pg15.InitializeAsync(), _pg12.InitializeAsync());
        Source15 = await CreateAsync(_pg15);
        Source12 = await CreateAsync(_pg12);
        foreach (var (version, source) in new[] { ("15", Source15), ("12", Source12) })
        {
            foreach (var (compression, z) in new[] { ("z0", "-Z0"), ("default", null) })
            {
                var file = _dir.File($"{version}-file-{compression}.dump");
                await PgDumpAsync(source, file, toStdout: false, z);
                Archives[$"{version}-file-{compression}"] = file;

                var piped = _dir.File($"{version}-pipe-{compression}.dump");
                await PgDumpAsync(source, piped, toStdout: true, z);
                Archives[$"{version}-pipe-{compression}"] = piped;
            }
        }
    }

    public async Task DisposeAsync()
    {
        _dir.Dispose();
        await Task.WhenAll(_pg15.DisposeAsync(), _pg12.DisposeAsync());
    }

    /// <summary>Starts pg_dump writing the archive of <paramref name="source"/> to its standard output.</summary>
    public static Process StartPgDump(PgConnectionInfo source, params string[] extra)
    {
        var start = new ProcessStartInfo(Path.Combine(PgBin, "pg_dump"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in source.ToLibpqEnvironment())
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add("-Fc");
        foreach (var e in extra)
        {
            start.ArgumentList.Add(e);
        }

        return Process.Start(start)!;
    }

    /// <summary>Runs pg_restore of the same release with the given arguments and returns its standard output.</summary>
    public static async Task<string> PgRestoreAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(PgBin, "pg_restore")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"pg_restore failed: {await stderr}");
        return await stdout;
    }

    /// <summary>Dumps <paramref name="source"/> into <paramref name="path"/>: by pg_dump itself (with data offsets), or through its standard output (without).</summary>
    public static async Task PgDumpAsync(PgConnectionInfo source, string path, bool toStdout, string? compression = null)
    {
        var args = new List<string>();
        if (compression is not null)
        {
            args.Add(compression);
        }

        if (!toStdout)
        {
            args.Add("--file=" + path);
        }

        using var p = StartPgDump(source, [.. args]);
        var stderr = p.StandardError.ReadToEndAsync();
        if (toStdout)
        {
            await using var file = File.Create(path);
            await p.StandardOutput.BaseStream.CopyToAsync(file);
        }
        else
        {
            await p.StandardOutput.ReadToEndAsync();
        }

        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"pg_dump failed: {await stderr}");
    }

    private static async Task<PgConnectionInfo> CreateAsync(PgServer server)
    {
        var db = await server.CreateDatabaseAsync("archives");
        var owner = db.User;
        await server.ExecuteAsync(db.Database, $"""
            CREATE ROLE "Sales Owner";
            CREATE EXTENSION hstore;
            CREATE SCHEMA "Sales Dept" AUTHORIZATION "Sales Owner";
            CREATE SCHEMA "we.ird""schema";
            CREATE SCHEMA "Ventes été";
            CREATE TABLE "Sales Dept"."Order Lines" (id bigserial PRIMARY KEY, note text CHECK (note <> ''), attrs hstore);
            ALTER TABLE "Sales Dept"."Order Lines" OWNER TO "Sales Owner";
            INSERT INTO "Sales Dept"."Order Lines" (note, attrs) SELECT md5(i::text) || repeat('x', i % 50), hstore('k', i::text) FROM generate_series(1, 20000) i;
            CREATE INDEX "by note" ON "Sales Dept"."Order Lines" (note);
            CREATE TABLE "we.ird""schema"."line
            break" (id int PRIMARY KEY, line_id bigint REFERENCES "Sales Dept"."Order Lines"(id));
            INSERT INTO "we.ird""schema"."line
            break" VALUES (1, 1), (2, 2);
            CREATE TABLE "Ventes été"."Données ñ" (clé int UNIQUE);
            INSERT INTO "Ventes été"."Données ñ" VALUES (1);
            CREATE TABLE public.{LongName} (id int);
            CREATE TABLE public."select" ("from" int);
            CREATE SEQUENCE "we.ird""schema"."seq;semi" START 42;
            CREATE FUNCTION "Sales Dept"."add one"(i int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT i + 1';
            CREATE AGGREGATE public."my sum"(int) (sfunc = int4pl, stype = int);
            COMMENT ON TABLE public."select" IS 'a keyword as a name';
            SELECT lo_from_bytea(0, decode(repeat('ab', 150000), 'hex'));
            SELECT lo_from_bytea(0, 'small');
            ALTER DATABASE "{db.Database}" OWNER TO "{owner}";
            """);
        return server.Cluster.Superuser(db.Database);
    }
}

[CollectionDefinition(SampleArchives.Collection)]
public sealed class SampleArchivesCollection : ICollectionFixture<SampleArchives>;
