using System.CommandLine;
using PgRelocate.Cli.Rendering;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Verify;

namespace PgRelocate.Cli.Commands;

/// <summary><c>pgrelocate verify</c>: compares source and target; exit 3 when anything differs.</summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var source = SourceOption.Required;
        var target = TargetOption.Required;
        var mode = new Option<string>("--mode")
        {
            Description = "counts: exact row counts; checksums (default): a digest of every row, and the differing rows by key.",
            DefaultValueFactory = _ => "checksums",
        };
        var tables = new Option<string[]>("--tables")
        {
            Description = "Only these tables: globs on schema.table or table, comma-separated or repeated (default: all).",
        };
        var query = new Option<string[]>("--query") { Description = "A query to run on both sides and compare (repeatable)." };
        var queries = new Option<string?>("--queries") { Description = "A file of queries separated by semicolons, each run on both sides and compared." };
        var jobs = JobsOption.Verify;
        var maxRows = new Option<int>("--max-rows")
        {
            Description = "The most differing rows listed per table and per query.",
            DefaultValueFactory = _ => 100,
        };

        // verify's --roles and --roles-with-privileged-attributes are its own: they say what to compare, where
        // RoleOptions' say what migrate, copy and restore create. --map-role means the same everywhere.
        var roles = new Option<bool>("--roles")
        {
            Description = "Also compare owners, privileges (column grants too), default privileges, policies' roles, and the roles the database uses with their memberships and settings: what migrate --roles carries.",
        };
        var mapRole = RoleOptions.MapRole;
        var privileged = new Option<bool>("--roles-with-privileged-attributes")
        {
            Description = "With --roles: the roles were given the source's SUPERUSER, REPLICATION and BYPASSRLS (migrate --roles-with-privileged-attributes); without it a role lacking them is a difference --roles chose, not a failure.",
        };

        var command = new Command("verify", "Compare source and target: schema objects, every table's rows, and your queries. Exit 3 when anything differs.")
        {
            source, target, mode, tables, query, queries, jobs, maxRows, roles, mapRole, privileged,
        };
        command.SetAction(async (ctx, ct) =>
        {
            var allQueries = (ctx.Parse.GetValue(query) ?? []).ToList();
            if (ctx.Parse.GetValue(queries) is { } file)
            {
                if (!File.Exists(file))
                {
                    throw new UsageException($"--queries: the file '{file}' does not exist.");
                }

                allQueries.AddRange(SqlText.Split(await File.ReadAllTextAsync(file, ct)));
            }

            var (renames, error) = PgRelocate.Catalog.RoleMap.Parse(ctx.Parse.GetValue(mapRole) ?? []);
            if (renames is null)
            {
                throw new UsageException(error!);
            }

            if (renames.Count > 0 && !ctx.Parse.GetValue(roles))
            {
                throw new UsageException("--map-role names the roles --roles compares: add --roles, or leave --map-role out.");
            }

            if (ctx.Parse.GetValue(privileged) && !ctx.Parse.GetValue(roles))
            {
                throw new UsageException("--roles-with-privileged-attributes says what --roles compares: add --roles, or leave it out.");
            }

            var options = new VerifyOptions
            {
                Roles = ctx.Parse.GetValue(roles),
                RoleRenames = renames,
                PrivilegedAttributes = ctx.Parse.GetValue(privileged),
                Source = ctx.Connection(source),
                Target = ctx.Connection(target),
                Mode = ctx.Parse.GetValue(mode) switch
                {
                    "counts" => VerifyMode.Counts,
                    "checksums" => VerifyMode.Checksums,
                    var other => throw new UsageException($"--mode '{other}' is not one of counts, checksums."),
                },
                Tables = ctx.Parse.GetValue(tables) ?? [],
                Queries = allQueries,
                Jobs = ctx.Parse.GetValue(jobs),
                MaxRows = ctx.Parse.GetValue(maxRows),
            };
            var result = await Verifier.RunAsync(options, ctx.Reporter, ct);
            ctx.Reporter.Stop();
            if (ctx.Json)
            {
                ctx.WriteJson(result, c => c.VerificationResult);
            }
            else
            {
                VerifyRenderer.Render(ctx.Out, result);
            }

            return result.HasDifferences ? ExitCode.Differences : ExitCode.Success;
        });
        return command;
    }
}
