using System.Globalization;
using System.Text.RegularExpressions;
using PgRelocate.Errors;

namespace PgRelocate.Tools;

/// <summary>One installed PostgreSQL client program and its version.</summary>
public sealed record PgTool(string Name, string Path, int Major, int Minor)
{
    public string Version => $"{Major}.{Minor}";

    public override string ToString() => $"{Name} {Version} ({Path})";
}

/// <summary>
/// Finds pg_dump, pg_restore and friends. pg_dump must be at least the source server's major version and
/// pg_restore at least the version of the pg_dump that wrote the archive, so several installed versions
/// are common; this picks the right one and, when none fits, says which package to install.
/// Search order: an explicit directory (<c>--pg-bin</c> or <c>PGRELOCATE_PG_BIN</c>), Debian's
/// <c>/usr/lib/postgresql/*/bin</c>, then <c>PATH</c>.
/// </summary>
public sealed partial class PgBinaries
{
    public const string BinDirVariable = "PGRELOCATE_PG_BIN";

    private readonly List<string> _searchDirs;

    /// <summary>The folder the user chose (--pg-bin or PGRELOCATE_PG_BIN), and how: its programs are the only ones used.</summary>
    private readonly (string Dir, string How)? _explicit;
    private readonly Dictionary<string, List<PgTool>> _cache = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public PgBinaries(string? explicitDir = null)
    {
        _searchDirs = [];
        var dir = explicitDir ?? Environment.GetEnvironmentVariable(BinDirVariable);
        if (!string.IsNullOrEmpty(dir))
        {
            if (!Directory.Exists(dir))
            {
                throw new UsageException($"The PostgreSQL binaries folder '{dir}' does not exist: pass --pg-bin a folder that holds pg_dump and pg_restore.");
            }

            _searchDirs.Add(dir);
            _explicit = (dir, explicitDir is null ? $"{BinDirVariable}={dir}" : $"--pg-bin {dir}");
        }

        if (Directory.Exists("/usr/lib/postgresql"))
        {
            _searchDirs.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => System.IO.Path.Combine(d, "bin"))
                .Where(Directory.Exists)
                .OrderByDescending(d => d, StringComparer.Ordinal));
        }

        _searchDirs.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));

        // A folder chosen by name that cannot serve is an error, never silently passed over for another.
        if (_explicit is { } chosen && Chosen("pg_dump") is null && Chosen("pg_restore") is null)
        {
            throw new UsageException($"{chosen.How} holds no pg_dump or pg_restore that runs: pass a folder that holds them (such as /usr/lib/postgresql/17/bin), or leave it out to use the installed ones.");
        }
    }

    /// <summary>The copy of <paramref name="name"/> in the folder the user chose; null without one or when it holds none that runs.</summary>
    private PgTool? Chosen(string name) =>
        _explicit is { } chosen ? All(name).FirstOrDefault(t => string.Equals(System.IO.Path.GetDirectoryName(t.Path), chosen.Dir.TrimEnd('/'), StringComparison.Ordinal)) : null;

    /// <summary>With a chosen folder, its <paramref name="name"/> if at least <paramref name="major"/>; else an error saying so.</summary>
    private PgTool? ChosenAtLeast(string name, int major, string purpose)
    {
        if (_explicit is not { } chosen)
        {
            return null;
        }

        var tool = Chosen(name) ?? throw new UsageException($"{chosen.How} holds no {name} that runs, and one is needed to {purpose}: pass a folder that holds {name} {major} or newer, or leave it out to use the installed ones.");
        return tool.Major >= major
            ? tool
            : throw new UsageException($"{name} {tool.Version} in {chosen.How} is too old to {purpose} ({name} {major} or newer is needed): pass a folder with a newer one, or leave it out to use the installed ones.");
    }

    /// <summary>
    /// Finds the installed copies of <paramref name="names"/> in the background (each copy's --version is a process
    /// to run), so that the call that needs one, later, finds them known or waits only for the rest.
    /// </summary>
    public void ReadAhead(params string[] names) =>
        _ = Task.Run(() =>
        {
            foreach (var name in names)
            {
                All(name);
            }
        }, CancellationToken.None);

    /// <summary>Every distinct installed copy of <paramref name="name"/>, newest first.</summary>
    public IReadOnlyList<PgTool> All(string name)
    {
        lock (_lock)
        {
            if (_cache.TryGetValue(name, out var cached))
            {
                return cached;
            }

            var found = new List<PgTool>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var dir in _searchDirs)
            {
                var path = System.IO.Path.Combine(dir, name);
                if (!File.Exists(path))
                {
                    continue;
                }

                var real = ResolveLinks(path);
                if (!seen.Add(real))
                {
                    continue;
                }

                // Debian's /usr/bin/pg_dump is a wrapper script that picks a version by itself: skip it
                // when a real binary is also known, so the choice stays ours.
                if (IsScript(real))
                {
                    continue;
                }

                if (ReadVersion(path) is { } version)
                {
                    found.Add(new PgTool(name, path, version.Major, version.Minor));
                }
            }

            // The explicit directory wins among equals: keep the search order, newest major first.
            var ordered = found.Select((t, i) => (t, i)).OrderByDescending(x => x.t.Major).ThenBy(x => x.i).Select(x => x.t).ToList();
            _cache[name] = ordered;
            return ordered;
        }
    }

    /// <summary>A pg_dump able to dump a server of major version <paramref name="serverMajor"/>.</summary>
    public PgTool PgDumpFor(int serverMajor) =>
        ChosenAtLeast("pg_dump", serverMajor, $"dump a PostgreSQL {serverMajor} server") ?? AtLeast("pg_dump", serverMajor, $"dump a PostgreSQL {serverMajor} server");

    /// <summary>
    /// A pg_restore able to read an archive that needs at least major <paramref name="archiveMinimum"/>
    /// (<see cref="Archives.ArchiveHeader.MinimumPgRestoreMajor"/>). The target server's own version is
    /// preferred, as the transfer services do: a newer pg_restore may send settings an older server rejects.
    /// </summary>
    public PgTool PgRestoreFor(int archiveMinimum, int targetMajor)
    {
        if (ChosenAtLeast("pg_restore", Math.Max(archiveMinimum, 1), "read an archive of this format") is { } chosen)
        {
            return chosen;
        }

        var fit = All("pg_restore").Where(t => t.Major >= archiveMinimum).ToList();
        return fit.FirstOrDefault(t => t.Major == targetMajor)
            ?? fit.OrderBy(t => t.Major).FirstOrDefault(t => t.Major >= targetMajor)
            ?? AtLeast("pg_restore", Math.Max(archiveMinimum, 1), $"read an archive of this format (pg_restore {Math.Max(archiveMinimum, 12)} or newer)");
    }

    /// <summary>The newest installed copy of <paramref name="name"/>.</summary>
    public PgTool Newest(string name) =>
        All(name).FirstOrDefault()
        ?? throw new PgRelocateException($"{name} was not found: install the PostgreSQL client (apt-get install postgresql-client-15) or pass --pg-bin DIR.");

    private PgTool AtLeast(string name, int major, string purpose)
    {
        var all = All(name);
        // The oldest that fits behaves most like the server it talks to; any newer one works too.
        var fit = all.Where(t => t.Major >= major).OrderBy(t => t.Major).FirstOrDefault();
        if (fit is not null)
        {
            return fit;
        }

        var have = all.Count == 0 ? "none is installed" : "installed: " + string.Join(", ", all.Select(t => t.Version));
        throw new PgRelocateException(
            $"{name} {major} or newer is needed to {purpose} ({have}): install postgresql-client-{major} (apt-get install postgresql-client-{major}) or pass --pg-bin DIR.");
    }

    private static string ResolveLinks(string path)
    {
        try
        {
            return new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? System.IO.Path.GetFullPath(path);
        }
        catch (IOException)
        {
            return System.IO.Path.GetFullPath(path);
        }
    }

    private static bool IsScript(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            Span<byte> head = stackalloc byte[2];
            return f.Read(head) == 2 && head[0] == '#' && head[1] == '!';
        }
        catch (IOException)
        {
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    private static (int Major, int Minor)? ReadVersion(string path) =>
        ChildProcess.ReadVersion(path) is { } output ? ParseVersion(output) : null;

    /// <summary>Reads "pg_dump (PostgreSQL) 15.18 (Debian ...)" or "16beta1" into (major, minor).</summary>
    internal static (int Major, int Minor)? ParseVersion(string text)
    {
        var m = VersionPattern().Match(text);
        if (!m.Success)
        {
            return null;
        }

        var major = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var minor = m.Groups[2].Success ? int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : 0;
        return (major, minor);
    }

    [GeneratedRegex(@"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")]
    private static partial Regex VersionPattern();
}
