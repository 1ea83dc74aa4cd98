using PgRelocate.Errors;
using PgRelocate.Tools;

namespace PgRelocate.Clusters;

/// <summary>
/// Finds PostgreSQL server installations (a folder holding initdb, pg_ctl and postgres) for local clusters.
/// Looks in <c>PGRELOCATE_SERVER_DIRS</c> (colon-separated bin folders; the test harness puts other server
/// versions there) and Debian's <c>/usr/lib/postgresql/*/bin</c>.
/// </summary>
internal static class ServerBinaries
{
    public const string DirsVariable = "PGRELOCATE_SERVER_DIRS";

    /// <summary>Every installed server's bin folder by major version, newest first.</summary>
    public static IReadOnlyList<(int Major, string BinDir)> All()
    {
        var dirs = new List<string>();
        dirs.AddRange((Environment.GetEnvironmentVariable(DirsVariable) ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            dirs.AddRange(Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")));
        }

        var found = new Dictionary<int, string>();
        foreach (var dir in dirs.Where(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")) && File.Exists(Path.Combine(d, "postgres"))))
        {
            var major = MajorVersionOf(dir);
            found.TryAdd(major, dir);
        }

        return found.OrderByDescending(f => f.Key).Select(f => (f.Key, f.Value)).ToList();
    }

    /// <summary>The bin folder of the newest installed server.</summary>
    public static string Newest() =>
        All().Select(a => a.BinDir).FirstOrDefault()
        ?? throw new PgRelocateException("No PostgreSQL server is installed for local clusters: install one (apt-get install postgresql-15).");

    /// <summary>The bin folder of a server of major version <paramref name="major"/>, or null.</summary>
    public static string? Find(int major) => All().Where(a => a.Major == major).Select(a => a.BinDir).FirstOrDefault();

    public static int MajorVersionOf(string binDir)
    {
        var output = ChildProcess.ReadVersion(Path.Combine(binDir, "postgres")) ?? throw new PgRelocateException($"Could not run {binDir}/postgres.");
        return PgBinaries.ParseVersion(output)?.Major
            ?? throw new PgRelocateException($"Could not read the version of {binDir}/postgres ('{output.Trim()}').");
    }
}
