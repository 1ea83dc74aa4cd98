using Npgsql;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Settings;

/// <summary>
/// Gives the target database the source's behavioural settings with ALTER DATABASE ... SET, as its owner.
/// They take effect for new sessions; existing ones keep their values.
/// </summary>
public static class SettingsApplier
{
    /// <summary>Applies and returns the statements run. <paramref name="confirm"/> must name the target database.</summary>
    public static async Task<IReadOnlyList<string>> ApplyAsync(PgConnectionInfo target, SettingsSnapshot from, string confirm, CancellationToken cancellationToken)
    {
        if (!string.Equals(confirm, target.Database, StringComparison.Ordinal))
        {
            throw new UsageException($"--confirm '{confirm}' does not match the target database '{target.Database}': pass --confirm {target.Database} to change its settings.");
        }

        await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
        var current = await SettingsSnapshot.ReadAsync(conn, target, cancellationToken);
        var statements = SettingsDiff.Compare(from, current).Statements(target.Database)
            .Where(s => !s.StartsWith("--", StringComparison.Ordinal))
            .ToList();
        foreach (var sql in statements)
        {
            try
            {
                await Db.ExecuteAsync(conn, sql, cancellationToken);
            }
            catch (PostgresException e)
            {
                throw new PgRelocateException($"The target refused '{sql}': {e.MessageText} ({e.SqlState}).", ExitCode.Failed, e);
            }
        }

        return statements;
    }
}
