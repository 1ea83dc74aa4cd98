using Npgsql;

namespace PgRelocate.Connections;

/// <summary>
/// One libpq connection parameter: its keyword in URLs and keyword strings, the environment variable
/// libpq reads it from, and how it reaches Npgsql. <see cref="ConnectionParameters.All"/> is the one table
/// both renderings of a connection (Npgsql's and the child processes' environment) are made from, so that
/// what pg_dump is told and what our own sessions are told cannot drift apart.
/// </summary>
/// <param name="Keyword">The libpq keyword (<c>sslrootcert</c>).</param>
/// <param name="Variable">The environment variable libpq reads (<c>PGSSLROOTCERT</c>); null when libpq has none.</param>
/// <param name="ToNpgsql">Sets the value on Npgsql's builder; null when <see cref="NpgsqlNote"/> says who handles it.</param>
/// <param name="NpgsqlNote">Why the parameter has no direct Npgsql setting, and what carries it instead.</param>
/// <param name="IsSecret">The value is a secret: never shown, in a URL or anywhere else.</param>
internal sealed record ConnectionParameter(
    string Keyword,
    string? Variable,
    Action<NpgsqlConnectionStringBuilder, string>? ToNpgsql,
    string? NpgsqlNote = null,
    bool IsSecret = false);
