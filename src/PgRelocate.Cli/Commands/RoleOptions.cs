using System.CommandLine;
using PgRelocate.Errors;

namespace PgRelocate.Cli.Commands;

/// <summary>--roles and --map-role for copy, restore and migrate: read and checked against each other here, once.</summary>
internal static class RoleOptions
{
    public static readonly Option<bool> Roles = new("--roles")
    {
        Description = "Create the roles the database uses on the target (where its login role may) and keep the source's owners, grants and default privileges.",
    };

    public static readonly Option<string[]> MapRole = new("--map-role")
    {
        Description = "With --roles: give source role SOURCE the name TARGET on the target (SOURCE=TARGET, repeatable).",
        AllowMultipleArgumentsPerToken = false,
    };

    public static void AddTo(Command command)
    {
        command.Options.Add(Roles);
        command.Options.Add(MapRole);
    }

    /// <summary>Whether --roles was given, and the renames of --map-role.</summary>
    /// <exception cref="UsageException">A --map-role is not SOURCE=TARGET, names a role twice, or comes without --roles.</exception>
    public static (bool Roles, Dictionary<string, string> Renames) Get(ParseResult parse)
    {
        var (renames, error) = Catalog.RoleMap.Parse(parse.GetValue(MapRole) ?? []);
        if (renames is null)
        {
            throw new UsageException(error!);
        }

        var roles = parse.GetValue(Roles);
        return renames.Count > 0 && !roles
            ? throw new UsageException("--map-role renames roles that --roles creates: add --roles, or leave out --map-role.")
            : (roles, renames);
    }
}
