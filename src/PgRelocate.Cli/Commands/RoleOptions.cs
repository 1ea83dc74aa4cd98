using System.CommandLine;
using PgRelocate.Errors;

namespace PgRelocate.Cli.Commands;

/// <summary>--roles, --map-role and --roles-with-privileged-attributes for copy, restore and migrate (check takes the last two too, verify --map-role): read and checked against each other here, once.</summary>
internal static class RoleOptions
{
    public static readonly Option<bool> Roles = new("--roles")
    {
        Description = "Create the roles the database uses on the target (where its login role may) and keep the source's owners, grants and default privileges.",
    };

    public static readonly Option<string[]> MapRole = new("--map-role")
    {
        Description = "With --roles: source role SOURCE is named TARGET on the target (SOURCE=TARGET, repeatable).",
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<bool> PrivilegedAttributes = new("--roles-with-privileged-attributes")
    {
        Description = "With --roles: give the roles created SUPERUSER, REPLICATION and BYPASSRLS where the source's have them (without it they are created without them, and named).",
    };

    public static void AddTo(Command command)
    {
        command.Options.Add(Roles);
        command.Options.Add(MapRole);
        command.Options.Add(PrivilegedAttributes);
    }

    /// <summary>Whether --roles was given, the renames of --map-role, and whether --roles-with-privileged-attributes was given.</summary>
    /// <exception cref="UsageException">A --map-role is not SOURCE=TARGET, names a role twice, or it or --roles-with-privileged-attributes comes without --roles.</exception>
    public static (bool Roles, Dictionary<string, string> Renames, bool Privileged) Get(ParseResult parse) => Get(parse, Roles);

    /// <summary><see cref="Get(ParseResult)"/> for a command with a --roles option of its own (check, verify).</summary>
    public static (bool Roles, Dictionary<string, string> Renames, bool Privileged) Get(ParseResult parse, Option<bool> rolesOption)
    {
        var (renames, error) = Catalog.RoleMap.Parse(parse.GetValue(MapRole) ?? []);
        if (renames is null)
        {
            throw new UsageException(error!);
        }

        var roles = parse.GetValue(rolesOption);
        var privileged = parse.GetValue(PrivilegedAttributes);
        if (privileged && !roles)
        {
            throw new UsageException("--roles-with-privileged-attributes gives the roles --roles creates their SUPERUSER, REPLICATION and BYPASSRLS: add --roles, or leave it out.");
        }

        return renames.Count > 0 && !roles
            ? throw new UsageException("--map-role renames roles that --roles creates: add --roles, or leave out --map-role.")
            : (roles, renames, privileged);
    }
}
