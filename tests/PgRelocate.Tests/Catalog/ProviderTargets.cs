using PgRelocate.Connections;
using PgRelocate.Progress;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Catalog;

/// <summary>
/// Databases set up as a managed provider hands them over: its superuser installed extensions in public
/// (owned by pg_database_owner), in a heroku_ext schema of its own, and one in a schema of its own (as
/// pg_partman lives in "partman"); the database belongs to a non-superuser login role, which does the work.
/// </summary>
internal static class ProviderTargets
{
    /// <summary>Every extension the provider installed, with the schema it lives in.</summary>
    public static readonly IReadOnlyList<(string Name, string Schema)> ProviderExtensions =
    [
        ("citext", "partman"), ("hstore", "public"), ("pg_trgm", "public"), ("pgcrypto", "heroku_ext"), ("pgstattuple", "public"),
    ];

    public static async Task<PgConnectionInfo> CreateAsync(PgServer server, string prefix = "provider")
    {
        var db = await server.CreateDatabaseAsync(prefix);
        await server.ExecuteAsync(db.Database, """
            ALTER SCHEMA public OWNER TO pg_database_owner;
            CREATE SCHEMA heroku_ext;
            GRANT USAGE ON SCHEMA heroku_ext TO PUBLIC;
            CREATE EXTENSION hstore;
            CREATE EXTENSION pg_trgm;
            CREATE EXTENSION pgstattuple;
            CREATE EXTENSION pgcrypto SCHEMA heroku_ext;
            CREATE SCHEMA partman;
            GRANT USAGE ON SCHEMA partman TO PUBLIC;
            CREATE EXTENSION citext SCHEMA partman;
            """);
        return db;
    }

    /// <summary>The provider's extensions still installed, in their schemas and owned by a superuser.</summary>
    public static async Task<IReadOnlyList<(string Name, string Schema)>> SurvivingAsync(PgConnectionInfo db)
    {
        await using var conn = await Db.OpenAsync(db, "target", CancellationToken.None);
        return await Db.ListAsync(conn, """
            SELECT e.extname::text, n.nspname::text FROM pg_extension e
            JOIN pg_namespace n ON n.oid = e.extnamespace JOIN pg_roles r ON r.oid = e.extowner
            WHERE r.rolsuper AND e.extname <> 'plpgsql' ORDER BY 1
            """, r => (r.GetString(0), r.GetString(1)), CancellationToken.None);
    }
}

/// <summary>A reporter that keeps every log line, for tests that assert what was said.</summary>
internal sealed class RecordingReporter : IReporter
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public void Log(LogLevel level, string message)
    {
        lock (_lines)
        {
            _lines.Add($"{level}: {message}");
        }
    }

    public void Progress(ProgressUpdate update)
    {
    }
}
