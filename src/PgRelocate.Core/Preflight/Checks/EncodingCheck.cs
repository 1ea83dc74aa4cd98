using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// The database encoding must match, or text that one side stores cannot be stored by the other. A
/// different collation or ctype restores, but sorts and compares text differently (ORDER BY, unique
/// indexes on text, LIKE ranges).
/// </summary>
internal sealed class EncodingCheck : IPreflightCheck
{
    public string Name => "encoding and collation";

    private const string Sql = "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = current_database()";

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var source = await Db.SingleAsync(context.Source, Sql, Read, cancellationToken);
        if (!context.HasTarget)
        {
            return [CheckResult.Ok(Name, $"source: {source}.", "Pass --target to compare with the target's.")];
        }

        var target = await Db.SingleAsync(context.Target!, Sql, Read, cancellationToken);
        var found = $"source: {source}; target: {target}.";
        if (!string.Equals(source.Name, target.Name, StringComparison.Ordinal))
        {
            return [CheckResult.Block(Name, found,
                $"Create the target database with ENCODING '{source.Name}' (and a matching locale), or convert the data first.")];
        }

        if (!SameLocale(source.Collate, target.Collate) || !SameLocale(source.Ctype, target.Ctype))
        {
            return [CheckResult.Warn(Name, found,
                $"Create the target database with LC_COLLATE '{source.Collate}' and LC_CTYPE '{source.Ctype}' if available, or check text ordering and unique indexes after the restore.")];
        }

        return [CheckResult.Ok(Name, found)];
    }

    private static DatabaseLocale Read(Npgsql.NpgsqlDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2));

    // Operating systems spell the same locale differently: "en_US.UTF-8" and "en_US.utf8".
    internal static bool SameLocale(string a, string b) => string.Equals(Normalize(a), Normalize(b), StringComparison.Ordinal);

    private static string Normalize(string locale) => locale.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();

    private sealed record DatabaseLocale(string Name, string Collate, string Ctype)
    {
        public override string ToString() => $"encoding {Name}, collate {Collate}, ctype {Ctype}";
    }
}
