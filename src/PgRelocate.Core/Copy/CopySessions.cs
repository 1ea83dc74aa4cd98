using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Copy;

/// <summary>The sessions a copy opens, with the settings each side needs.</summary>
internal static class CopySessions
{
    /// <summary>
    /// Opens a connection with larger socket buffers: COPY streams move megabytes at a time. It carries the
    /// connection's application_name where it has one (a migration names its copy's sessions), else "pgrelocate copy".
    /// </summary>
    public static Task<NpgsqlConnection> OpenAsync(PgConnectionInfo info, string role, CancellationToken cancellationToken)
    {
        var options = info.ApplicationName is { } name ? SessionOptions.Bulk with { ApplicationName = name } : SessionOptions.Bulk;
        return Db.OpenAsync(info, role, options, cancellationToken);
    }

    /// <summary>What text-format COPY needs both sides to agree on, as pg_dump sets it: exact floats, ISO dates.</summary>
    private const string TextFormatSettings = "SET extra_float_digits = 3; SET DateStyle = ISO; SET IntervalStyle = postgres";

    /// <summary>
    /// A source reader inside the coordinator's snapshot. row_security off makes a table the login role would
    /// only partly see fail loudly rather than copy partly, as pg_dump does.
    /// </summary>
    public static async Task<NpgsqlConnection> OpenReaderAsync(PgConnectionInfo source, string snapshotId, CancellationToken cancellationToken)
    {
        var conn = await OpenAsync(source, "source", cancellationToken);
        try
        {
            // Three round trips, not one batch: SET TRANSACTION SNAPSHOT must come first in its transaction.
            await Db.ExecuteAsync(conn, "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; SET row_security = off; " + TextFormatSettings, cancellationToken);
            await Db.ExecuteAsync(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", cancellationToken);
            await Db.ExecuteAsync(conn, $"SET TRANSACTION SNAPSHOT {Db.Literal(snapshotId)}", cancellationToken);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }

    /// <summary>How often a target writer's server checks, while a statement runs, that the copy is still there.</summary>
    internal const string ClientCheckInterval = "2s";

    /// <summary>
    /// A target writer: no timeouts (a large index build or COPY must not be cut off by the provider's
    /// defaults), asynchronous commit (a server crash may lose the last
    /// commits, each together with its record in <see cref="CopyRecord"/>, so a resume copies them again), the
    /// maintenance_work_mem for B-tree builds, and pg_dump's empty search_path for its statements. Where both servers
    /// share this machine's few cores (<see cref="CopyOptions.SharesFewCores"/>) an index build gets no parallel
    /// workers: the copy's index builders already run side by side, and each build's workers on top of them
    /// oversubscribe the cores (two B-tree builds at once on two cores, pgbench scale 50: 1.5 to 1.7 s without
    /// workers, 2.0 to 2.2 s with PostgreSQL's default two; one build alone gains 10% from them). Where the server has
    /// it (PostgreSQL 14 on), client_connection_check_interval: a server notices a client gone only when it next reads
    /// from it or writes to it, so the index build of a killed copy went on, and committed, while a resumed copy built
    /// the same index; with it the server ends a statement within <see cref="ClientCheckInterval"/> of its client's end.
    /// </summary>
    public static async Task<NpgsqlConnection> OpenWriterAsync(CopyOptions options, CancellationToken cancellationToken)
    {
        var target = options.Target;
        var maintenanceWorkMem = options.MaintenanceWorkMem;
        var workers = options.SharesFewCores
            ? " SELECT pg_catalog.set_config(name, '0', false) FROM pg_catalog.pg_settings WHERE name = 'max_parallel_maintenance_workers';"
            : "";
        // A server whose platform cannot tell a closed socket (neither Linux nor illumos) refuses any value but 0.
        var clientCheck = $" DO $$ BEGIN PERFORM pg_catalog.set_config(name, {Db.Literal(ClientCheckInterval)}, false) FROM pg_catalog.pg_settings WHERE name = 'client_connection_check_interval'; EXCEPTION WHEN invalid_parameter_value THEN NULL; END $$;";
        var conn = await OpenAsync(target, "target", cancellationToken);
        try
        {
            var settings = CatalogSql.Load("Copy/WriterSettings.sql", new Dictionary<string, string> { ["maintenance_work_mem"] = Db.Literal(maintenanceWorkMem) });
            await Db.ExecuteAsync(conn, settings + workers + clientCheck + TextFormatSettings, cancellationToken);
            return conn;
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
    }
}
