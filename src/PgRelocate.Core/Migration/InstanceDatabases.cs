using Npgsql;
using PgRelocate.Catalog;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Migration;

/// <summary>
/// The databases of an instance migration (<c>migrate --databases a,b</c> or <c>--all-databases</c>): which the
/// source has, whether the target has each, and creating one there as the source has it.
/// </summary>
internal static class InstanceDatabases
{
    /// <summary>The providers' own databases, never moved by --all-databases (name one with --databases to move it anyway).</summary>
    public static IReadOnlyList<string> ProviderDatabases { get; } = ["rdsadmin", "azure_maintenance", "azure_sys", "cloudsqladmin"];

    /// <summary>The maintenance database: moved by --all-databases only when it holds user objects on the source.</summary>
    public const string MaintenanceDatabase = "postgres";

    /// <summary>
    /// Checks an instance migration's options (<c>--databases</c> or <c>--all-databases</c>) and returns those it
    /// runs with: one of the two, no <c>--confirm</c> (it names one database: <c>--confirm-all</c> stands for it),
    /// and the rules of any migration (<see cref="MigrationOptionsRules.Validate"/>).
    /// </summary>
    /// <exception cref="UsageException">A rule is broken.</exception>
    public static MigrationOptions Validate(MigrationOptions given, bool named, bool all)
    {
        ArgumentNullException.ThrowIfNull(given);
        if (named == all)
        {
            throw new UsageException(named
                ? "--databases and --all-databases both say which databases to move: give one of them."
                : "--confirm-all replaces what the target's databases hold in a migration of several: add --databases a,b or --all-databases (one database takes --confirm NAME).");
        }

        if (!string.IsNullOrEmpty(given.Into.Confirm))
        {
            throw new UsageException("--confirm names one target database: with --databases or --all-databases, pass --confirm-all to replace what the target's existing databases hold.");
        }

        var options = (given with { Into = given.Into with { Confirm = given.Into.Connection.Database } }).Validate();
        return options with { Into = options.Into with { Confirm = null } };
    }

    /// <summary>
    /// The databases to move, in order: <paramref name="named"/> as given (each must be one the source's login role
    /// may connect to), or, when null, every database it may connect to but templates, <see cref="ProviderDatabases"/> and
    /// <see cref="MaintenanceDatabase"/> when it holds no user object.
    /// </summary>
    /// <exception cref="UsageException">A named database is not there, or not reachable; or there is none to move.</exception>
    public static async Task<List<string>> ResolveAsync(PgConnectionInfo source, IReadOnlyList<string>? named, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        await using var conn = await Db.OpenAsync(source, "source", cancellationToken);
        var databases = await Db.ListAsync(conn, "SELECT datname::text, datistemplate, datallowconn, has_database_privilege(datname, 'CONNECT') FROM pg_catalog.pg_database ORDER BY datname", r => (Name: r.GetString(0), Template: r.GetBoolean(1), AllowConn: r.GetBoolean(2), Connect: r.GetBoolean(3)), cancellationToken);
        var reachable = databases.Where(d => !d.Template && d.AllowConn && d.Connect).Select(d => d.Name).ToList();
        if (named is null)
        {
            var all = reachable.Where(d => !ProviderDatabases.Contains(d, StringComparer.Ordinal)).ToList();
            // The maintenance database every server has (the target's belongs to its superuser): moved only when it holds something.
            if (all.Contains(MaintenanceDatabase, StringComparer.Ordinal))
            {
                await using var maintenance = await Db.OpenAsync(source.WithDatabase(MaintenanceDatabase), "source", cancellationToken);
                if ((await UserObjects.ReadAsync(maintenance, cancellationToken)).Count == 0)
                {
                    all.Remove(MaintenanceDatabase);
                }
            }

            return all.Count > 0 ? all : throw new UsageException($"The source's login role {source.User} may connect to no database to move: grant it CONNECT, or name them with --databases.");
        }

        foreach (var database in named)
        {
            if (!reachable.Contains(database, StringComparer.Ordinal))
            {
                var found = databases.FirstOrDefault(d => d.Name == database);
                var why = found.Name is null ? $"which the source does not have: check the name"
                    : found.Template ? $"a template database of the source: templates are not moved; to move it as an ordinary database, run ALTER DATABASE {Db.Ident(database)} IS_TEMPLATE false on the source first"
                    : !found.AllowConn ? $"which the source allows no connections to (datallowconn is false): run ALTER DATABASE {Db.Ident(database)} ALLOW_CONNECTIONS true on the source first"
                    : $"which the source's login role {source.User} may not connect to: grant it CONNECT on that database";
                throw new UsageException(Sentences.NothingWasChanged($"--databases names '{database}', {why}"));
            }
        }

        return named.Distinct(StringComparer.Ordinal).ToList();
    }

    public static Task<bool> ExistsAsync(NpgsqlConnection server, string database, CancellationToken cancellationToken) =>
        Db.SingleAsync(server, $"SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = {Db.Literal(database)})", r => r.GetBoolean(0), cancellationToken);

    /// <summary>Whether the login role of <paramref name="server"/> may create databases (CREATEDB or SUPERUSER).</summary>
    public static Task<bool> MayCreateAsync(NpgsqlConnection server, CancellationToken cancellationToken) =>
        Db.SingleAsync(server, "SELECT rolcreatedb OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user", r => r.GetBoolean(0), cancellationToken);

    /// <summary>
    /// Creates <paramref name="source"/>'s database on the target server (<paramref name="server"/>, any database of
    /// it) under the same name, with the source's encoding. Its owner is the target's login role; with --roles, the
    /// source's owner (named by the <see cref="RoleMap"/>) where the target has that role and the login role may give
    /// it a database (it is a member of it). Returns a line saying who owns it.
    /// </summary>
    public static async Task<string> CreateAsync(PgConnectionInfo source, PgConnectionInfo server, bool roles, IReadOnlyDictionary<string, string> renames, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(server);
        string encoding, owner, sourceLogin;
        await using (var from = await Db.OpenAsync(source, "source", cancellationToken))
        {
            (encoding, owner, sourceLogin) = await Db.SingleAsync(from,
                "SELECT pg_catalog.pg_encoding_to_char(encoding)::text, pg_catalog.pg_get_userbyid(datdba)::text, current_user::text FROM pg_catalog.pg_database WHERE datname = current_database()",
                r => (r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken);
        }

        await using var into = await Db.OpenAsync(server, "target", cancellationToken);
        var (targetEncoding, login) = await Db.SingleAsync(into,
            "SELECT pg_catalog.pg_encoding_to_char(encoding)::text, current_user::text FROM pg_catalog.pg_database WHERE datname = 'template1'",
            r => (r.GetString(0), r.GetString(1)), cancellationToken);
        var name = source.Database;
        // template1 may hold what the provider installs in every database; template0 only where the encoding differs.
        var create = $"CREATE DATABASE {Db.Ident(name)}" + (string.Equals(encoding, targetEncoding, StringComparison.Ordinal) ? "" : $" TEMPLATE template0 ENCODING {Db.Literal(encoding)}");
        var wanted = roles ? RoleMap.For(renames, sourceLogin, login)[owner] : login;
        if (wanted != login && await Db.SingleAsync(into, $"SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {Db.Literal(wanted)})", r => r.GetBoolean(0), cancellationToken))
        {
            try
            {
                await Db.ExecuteAsync(into, $"{create} OWNER {Db.Ident(wanted)}", cancellationToken);
                return $"created, owned by {wanted} as on the source";
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                await Db.ExecuteAsync(into, create, cancellationToken);
                return $"created, owned by {login}: it may not give a database to {wanted} (on the source its owner); ALTER DATABASE {Db.Ident(name)} OWNER TO {Db.Ident(wanted)} as a role that may";
            }
        }

        await Db.ExecuteAsync(into, create, cancellationToken);
        return $"created, owned by {login}";
    }
}
