using Npgsql;
using PgRelocate.Archives;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Progress;

namespace PgRelocate.Online;

/// <summary>
/// The target's session of a pass of <see cref="SchemaObjects"/>, set as pg_restore sets its own (every name
/// qualified, function bodies not checked before what they use exists): each change is one transaction, and one
/// that fails is rolled back and named with its SQL.
/// </summary>
internal sealed class SchemaObjectSession(NpgsqlConnection conn, IReporter reporter) : IAsyncDisposable
{
    public List<string> Applied { get; } = [];

    public List<SchemaObjectRefusal> Refused { get; } = [];

    public Task PrepareAsync(CancellationToken cancellationToken) => Db.ExecuteAsync(
        conn,
        "SET search_path = ''; SET check_function_bodies = false; SET client_min_messages = warning; SET standard_conforming_strings = on; SET lock_timeout = '10s'",
        cancellationToken);

    /// <summary>
    /// A session on the source read as this one reads the target's: every name in a definition schema-qualified, so
    /// that the two compare as text and the source's runs here as it is.
    /// </summary>
    /// <param name="applicationName">What the session is called (default: <see cref="ApplicationName"/>).</param>
    public static async Task<NpgsqlConnection> OpenSourceAsync(PgConnectionInfo source, CancellationToken cancellationToken, string applicationName = ApplicationName)
    {
        var s = await Db.OpenAsync(source.WithApplicationName(applicationName), "source", cancellationToken);
        try
        {
            await PrepareSourceAsync(s, cancellationToken);
            return s;
        }
        catch
        {
            await s.DisposeAsync();
            throw;
        }
    }

    /// <summary>The name the pass's sessions give the servers.</summary>
    public const string ApplicationName = "pgrelocate online schema";

    /// <summary>Sets a source session to read the catalog as the target's session does.</summary>
    private static Task PrepareSourceAsync(NpgsqlConnection source, CancellationToken cancellationToken) =>
        Db.ExecuteAsync(source, "SET search_path = ''", cancellationToken);

    /// <summary>Runs a change in one transaction; failing, its other way (<see cref="SchemaObjects.Step.Instead"/>) if it has one, else it is refused.</summary>
    public async Task RunAsync(SchemaObjects.Step step, CancellationToken cancellationToken)
    {
        if (await TryAsync(step.Statements, cancellationToken) is not { } failure)
        {
            Applied.Add(step.Object);
            return;
        }

        if (step.Instead is { } instead)
        {
            if (await TryAsync(instead, cancellationToken) is not { } second)
            {
                Applied.Add(step.Object);
                return;
            }

            failure = second;
            reporter.Debug($"{step.Object}: CREATE OR REPLACE and DROP with CREATE both failed.");
        }

        if (step.Later)
        {
            reporter.Debug($"{step.Object}: left to the switch ({failure}).");
            return;
        }

        Refused.Add(new SchemaObjectRefusal(step.Object, failure, string.Join(" ", (step.Instead ?? step.Statements).Select(s => s.Trim()))));
    }

    /// <summary>
    /// The values the source's enums gained, added where the source has them (ALTER TYPE … ADD VALUE, each on its
    /// own: before PostgreSQL 12 it cannot run in a transaction). An enum whose values were renamed, removed or
    /// reordered on the source is refused.
    /// </summary>
    /// <param name="source">A session on the source, opened by <see cref="OpenSourceAsync"/>.</param>
    public async Task EnumsAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        // Both sides read at once: at the switch this is write downtime.
        var reads = await Task.WhenAll(EnumsOfAsync(source, cancellationToken), EnumsOfAsync(conn, cancellationToken));
        var (enums, ours) = (reads[0], reads[1]);
        foreach (var (type, theirs) in enums)
        {
            if (!ours.TryGetValue(type, out var mine) || theirs.SequenceEqual(mine))
            {
                continue;
            }

            if (!theirs.Where(mine.Contains).SequenceEqual(mine))
            {
                Refused.Add(new SchemaObjectRefusal($"TYPE {type}", "its values were renamed, removed or reordered on the source", $"ALTER TYPE {type} RENAME VALUE … (the source's values: {string.Join(", ", theirs.Select(Db.Literal))})"));
                continue;
            }

            for (var i = 0; i < theirs.Count; i++)
            {
                if (mine.Contains(theirs[i]))
                {
                    continue;
                }

                var sql = $"ALTER TYPE {type} ADD VALUE IF NOT EXISTS {Db.Literal(theirs[i])} {(i > 0 ? "AFTER " + Db.Literal(theirs[i - 1]) : "BEFORE " + Db.Literal(mine[0]))}";
                try
                {
                    await Db.ExecuteAsync(conn, sql, cancellationToken);
                    mine.Insert(i, theirs[i]);
                    Applied.Add($"TYPE {type} value {Db.Literal(theirs[i])}");
                }
                catch (PostgresException x)
                {
                    Refused.Add(new SchemaObjectRefusal($"TYPE {type}", x.MessageText, sql));
                    break;
                }
            }
        }
    }

    /// <summary>Check constraints, which pg_dump writes inside their table's definition: added, replaced and dropped by name.</summary>
    /// <param name="source">A session on the source, opened by <see cref="OpenSourceAsync"/>.</param>
    public async Task ChecksAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        var reads = await Task.WhenAll(ChecksOfAsync(source, cancellationToken), ChecksOfAsync(conn, cancellationToken));
        var (theirs, mine) = (reads[0], reads[1]);
        var tables = theirs.Select(c => c.Table).ToHashSet(StringComparer.Ordinal);
        foreach (var c in mine.Where(c => tables.Contains(c.Table) && !theirs.Any(t => t.Table == c.Table && t.Name == c.Name)))
        {
            await RunAsync(new SchemaObjects.Step($"CHECK CONSTRAINT {Db.Ident(c.Name)} of {c.Table} (dropped on the source)", [$"ALTER TABLE {c.Table} DROP CONSTRAINT {Db.Ident(c.Name)}"]), cancellationToken);
        }

        foreach (var c in theirs)
        {
            var add = $"ALTER TABLE {c.Table} ADD CONSTRAINT {Db.Ident(c.Name)} {c.Definition}";
            if (mine.Find(m => m.Table == c.Table && m.Name == c.Name) is { Table: not null } other)
            {
                if (other.Definition != c.Definition)
                {
                    await RunAsync(new SchemaObjects.Step($"CHECK CONSTRAINT {Db.Ident(c.Name)} of {c.Table} (changed on the source)", [$"ALTER TABLE {c.Table} DROP CONSTRAINT {Db.Ident(c.Name)}", add]), cancellationToken);
                }
            }
            else
            {
                await RunAsync(new SchemaObjects.Step($"CHECK CONSTRAINT {Db.Ident(c.Name)} of {c.Table}", [add]), cancellationToken);
            }
        }
    }

    /// <summary>The materialized views the source has filled and the target has not (made by a pass, WITH NO DATA): refreshed, the rows being the source's now.</summary>
    /// <param name="source">A session on the source, opened by <see cref="OpenSourceAsync"/>.</param>
    public async Task RefreshAsync(NpgsqlConnection source, CancellationToken cancellationToken)
    {
        const string Populated = "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm' AND c.relispopulated";
        var reads = await Task.WhenAll(Db.ListAsync(source, Populated, r => r.GetString(0), cancellationToken), Db.ListAsync(conn, Populated, r => r.GetString(0), cancellationToken));
        var (theirs, mine) = (reads[0], reads[1].ToHashSet(StringComparer.Ordinal));
        foreach (var view in theirs.Where(v => !mine.Contains(v)))
        {
            await RunAsync(new SchemaObjects.Step($"MATERIALIZED VIEW DATA {view}", [$"REFRESH MATERIALIZED VIEW {view}"]), cancellationToken);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task<string?> TryAsync(IReadOnlyList<string> statements, CancellationToken cancellationToken)
    {
        await Db.ExecuteAsync(conn, "BEGIN", cancellationToken);
        try
        {
            foreach (var sql in statements)
            {
                await Db.ExecuteAsync(conn, sql, cancellationToken);
            }

            await Db.ExecuteAsync(conn, "COMMIT", cancellationToken);
            return null;
        }
        catch (PostgresException e)
        {
            await Db.ExecuteAsync(conn, "ROLLBACK", cancellationToken);
            return e.MessageText;
        }
    }

    private static async Task<Dictionary<string, List<string>>> EnumsOfAsync(NpgsqlConnection session, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(CatalogSql.Load("Online/ObjectEnums.sql"), session);
        cmd.Parameters.AddWithValue("tool", ToolSchema.Name);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var enums = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        while (await r.ReadAsync(cancellationToken))
        {
            enums[r.GetString(0)] = [.. r.GetFieldValue<string[]>(1)];
        }

        return enums;
    }

    private static async Task<List<(string Table, string Name, string Definition)>> ChecksOfAsync(NpgsqlConnection session, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(CatalogSql.Load("Online/ObjectChecks.sql"), session);
        cmd.Parameters.AddWithValue("tool", ToolSchema.Name);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
        var checks = new List<(string, string, string)>();
        while (await r.ReadAsync(cancellationToken))
        {
            checks.Add((r.GetString(0), r.GetString(1), r.GetString(2)));
        }

        return checks;
    }
}
