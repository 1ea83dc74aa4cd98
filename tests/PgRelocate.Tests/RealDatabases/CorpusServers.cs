using PgRelocate.Connections;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>
/// The corpus on a source server and a provider-like target server (PostgreSQL 15 with PostGIS by default),
/// with the corpus's archives served over HTTP from a temporary folder. One per test class.
/// </summary>
public class CorpusServers<TSource, TTarget> : IAsyncLifetime
    where TSource : PgServer, new()
    where TTarget : PgServer, new()
{
    private readonly Dictionary<string, PgConnectionInfo> _databases = new(StringComparer.Ordinal);

    public TSource Source { get; } = new();

    public TTarget Target { get; } = new();

    public ProviderTarget Provider { get; private set; } = null!;

    public TempDir Dir { get; } = new();

    public FileHttpServer Http { get; private set; } = null!;

    public CorpusArchives Archives { get; private set; } = null!;

    /// <summary>The corpus databases this fixture makes on its source.</summary>
    protected virtual string[] DatabaseNames => [Corpus.Gis, Corpus.Billing, Corpus.Names, Corpus.Unreadable];

    public PgConnectionInfo this[string name] => _databases[name];

    /// <summary>Called for each corpus database once it is built on the source, before any test uses it.</summary>
    protected virtual Task SourceBuiltAsync(PgConnectionInfo database) => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        TestExtension.InstallInto(Source.ServerBinDir);
        TestExtension.InstallInto(Target.ServerBinDir);
        await Task.WhenAll(Source.InitializeAsync(), Target.InitializeAsync());
        foreach (var name in DatabaseNames)
        {
            _databases[name] = await Corpus.BuildAsync(Source, name);
            await SourceBuiltAsync(_databases[name]);
        }

        Provider = await ProviderTarget.PrepareAsync(Target);
        Http = new FileHttpServer(Dir.Path);
        Archives = new CorpusArchives(Dir.Path);
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        await Task.WhenAll(Source.DisposeAsync(), Target.DisposeAsync());
        Dir.Dispose();
    }
}

/// <summary>The whole corpus on PostgreSQL 15 into a provider-like PostgreSQL 15 target with PostGIS.</summary>
public sealed class Pg15Corpus : CorpusServers<PgServer, PgServer>;

/// <summary>
/// The whole corpus on a PostgreSQL 15 source that streams its changes (wal_level logical), each database's
/// owner allowed to replicate (REPLICATION, not a superuser), into a provider-like PostgreSQL 15 target: for
/// online migrations.
/// </summary>
public sealed class Pg15LogicalCorpus : CorpusServers<Online.OnlineServers.LogicalServer, PgServer>
{
    protected override Task SourceBuiltAsync(PgConnectionInfo database) =>
        Source.ExecuteAsync("postgres", $"ALTER ROLE \"{database.User}\" REPLICATION");
}
