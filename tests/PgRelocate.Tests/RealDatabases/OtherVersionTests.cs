using PgRelocate.Connections;
using PgRelocate.Tests.Harness;
using PgRelocate.Tools;

namespace PgRelocate.Tests.RealDatabases;

/// <summary>
/// PostgreSQL 15, 16 and 18 sources of the <c>names</c> and <c>billing</c> databases into a provider-like
/// PostgreSQL 18 target (no PostGIS there), by restore and by copy.
/// </summary>
[Heavy(45)]
public sealed class OtherVersionTests(OtherVersionTests.Servers servers) : IClassFixture<OtherVersionTests.Servers>
{
    /// <summary>Sources of three majors; the PostgreSQL 18 server is also the provider-like target.</summary>
    public sealed class Servers : IAsyncLifetime
    {
        private readonly Dictionary<(int, string), PgConnectionInfo> _databases = [];

        public PgServer Pg15 { get; } = new();

        public Pg16Server Pg16 { get; } = new();

        public Pg18Server Pg18 { get; } = new();

        public ProviderTarget Provider { get; private set; } = null!;

        public TempDir Dir { get; } = new();

        public CorpusArchives Archives { get; private set; } = null!;

        public PgConnectionInfo Source(int major, string name) => _databases[(major, name)];

        public PgServer Server(int major) => major switch { 15 => Pg15, 16 => Pg16, _ => Pg18 };

        public async Task InitializeAsync()
        {
            foreach (var server in new[] { Pg15, Pg16, Pg18 })
            {
                TestExtension.InstallInto(server.ServerBinDir);
            }

            await Task.WhenAll(Pg15.InitializeAsync(), Pg16.InitializeAsync(), Pg18.InitializeAsync());
            foreach (var major in new[] { 15, 16, 18 })
            {
                foreach (var name in new[] { Corpus.Names, Corpus.Billing })
                {
                    _databases[(major, name)] = await Corpus.BuildAsync(Server(major), name);
                }
            }

            Provider = await ProviderTarget.PrepareAsync(Pg18);
            Archives = new CorpusArchives(Dir.Path);
        }

        public async Task DisposeAsync()
        {
            await Task.WhenAll(Pg15.DisposeAsync(), Pg16.DisposeAsync(), Pg18.DisposeAsync());
            Dir.Dispose();
        }
    }

    public static TheoryData<int, string, string> Matrix()
    {
        var data = new TheoryData<int, string, string>();
        foreach (var major in new[] { 15, 16, 18 })
        {
            foreach (var db in new[] { Corpus.Names, Corpus.Billing })
            {
                foreach (var path in new[] { "restore", "copy" })
                {
                    data.Add(major, db, path);
                }
            }
        }

        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Matrix))]
    public async Task Should_Move_From_Another_Major_Into_A_PostgreSQL_18_Provider_Target(int sourceMajor, string database, string path)
    {
        // Client programs of the newer majors are looked for beside their servers too, as a user would point at them.
        // (An explicit --pg-bin must hold client programs: the embedded servers' folders hold none.)
        var binDir = EmbeddedServers.BinDir(sourceMajor == 15 ? 18 : sourceMajor);
        var clientsThere = File.Exists(Path.Combine(binDir, "pg_dump"));
        string[] pgBin = clientsThere ? ["--pg-bin", binDir] : [];
        // A source is dumped by a pg_dump of its major or newer; where none is installed, this cell cannot run.
        Skip.IfNot(
            new PgBinaries(clientsThere ? binDir : null).All("pg_dump").Any(t => t.Major >= sourceMajor),
            $"no pg_dump {sourceMajor} or newer is installed (beside the PostgreSQL {sourceMajor} server or among the client programs), and a PostgreSQL {sourceMajor} source needs one");
        var source = servers.Source(sourceMajor, database);
        var target = await servers.Provider.CreateDatabaseAsync(database);
        CliResult result;
        if (path == "restore")
        {
            var archive = await servers.Archives.GetAsync($"{database}-{sourceMajor}", source, pgBin);
            archive.AssertDumped();
            result = await CliRunner.RunAsync(["restore", archive.Path, "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", "2", .. pgBin], null);
        }
        else
        {
            result = await CliRunner.RunAsync(["copy", "--source", CliRunner.Url(source), "--target", CliRunner.Url(target), "--confirm", target.Database, "--jobs", "2", .. pgBin], null);
        }

        PathMatrix.AssertSucceeded($"{path} of {database} from PostgreSQL {sourceMajor} into PostgreSQL 18", result);
        await PathMatrix.AssertMovedAsync(source, target, servers.Provider);
    }
}
