using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Clusters;
using PgRelocate.Connections;

namespace PgRelocate.Demo;

/// <summary>
/// The demo's sample database: several schemas, a few hundred thousand rows, foreign keys, B-tree and GIN
/// indexes, serial and identity columns, a view and a materialized view, a function with a trigger, an enum,
/// jsonb, bytea and hstore, a large object, pgcrypto and hstore, and objects owned by two non-superuser roles.
/// </summary>
public static class SampleDatabase
{
    /// <summary>The schema owned by a second role, to show ownership is reassigned on restore.</summary>
    public const string ReportingSchema = "reporting";

    /// <summary>The role that owns <see cref="ReportingSchema"/>: not the login role.</summary>
    public static string ReportingRole(PgConnectionInfo database)
    {
        ArgumentNullException.ThrowIfNull(database);
        return database.User + "_reporting";
    }

    /// <summary>The script that makes the sample (sample.sql).</summary>
    public static string Sql => CatalogSql.Load("Demo/sample.sql");

    /// <summary>Loads the sample into <paramref name="database"/> (owned by its login role) on <paramref name="cluster"/>.</summary>
    public static async Task LoadAsync(LocalCluster cluster, PgConnectionInfo database, CancellationToken cancellationToken)
    {
        await using (var conn = await Db.OpenAsync(database, "sample database", cancellationToken))
        {
            await Db.ExecuteAsync(conn, Sql, cancellationToken);
        }

        // A second role owns a schema of its own, and lets the owner read it (as a reporting team would).
        var reporter = ReportingRole(database);
        await cluster.ExecuteAsync($"CREATE ROLE {Db.Ident(reporter)} NOLOGIN", cancellationToken: cancellationToken);
        await cluster.ExecuteAsync(
            CatalogSql.Load("Demo/reporting.sql", new Dictionary<string, string>
            {
                ["reporting_schema"] = ReportingSchema,
                ["reporter"] = Db.Ident(reporter),
                ["owner"] = Db.Ident(database.User),
            }),
            database.Database,
            cancellationToken);
    }
}
