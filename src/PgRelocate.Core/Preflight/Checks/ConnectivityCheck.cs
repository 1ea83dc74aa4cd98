using PgRelocate.Catalog;
using PgRelocate.Connections;

namespace PgRelocate.Preflight.Checks;

/// <summary>
/// Both sides answered (the runner could not have got here otherwise); says whether TLS protects each
/// connection, and blocks when the source and the target are the same database, which a restore would wipe.
/// </summary>
internal sealed class ConnectivityCheck : IPreflightCheck
{
    public string Name => "connectivity";

    public async Task<IReadOnlyList<CheckResult>> RunAsync(PreflightContext context, CancellationToken cancellationToken)
    {
        var rows = new List<CheckResult> { Describe(context.SourceInfo, context.SourceServer) };
        if (context.HasTarget)
        {
            var source = await DatabaseIdentity.TryReadAsync(context.Source, cancellationToken);
            var target = await DatabaseIdentity.TryReadAsync(context.Target!, cancellationToken);
            if (source is null || target is null)
            {
                rows.Add(CheckResult.Warn(Name, "Could not tell whether the source and the target are the same database: pg_control_system() is not granted.",
                    "Make sure --target is not the source: restoring into the source would destroy it."));
            }

            rows.Add(source is not null && source == target
                ? CheckResult.Block(Name, $"The source and the target are the same database ({context.TargetInfo!.Display}).",
                    "Give the target's URL as --target: restoring into the source would destroy it.")
                : Describe(context.TargetInfo!, context.TargetServer!));
        }

        return rows;
    }

    private CheckResult Describe(PgConnectionInfo info, ServerInfo server)
    {
        var tls = server.Ssl ? $"TLS ({server.SslVersion})" : "no TLS";
        var found = $"{server.Role}: connected to {info.Display} as {server.User}, {tls}.";
        if (server.Ssl || info.IsLocal)
        {
            return CheckResult.Ok(Name, found);
        }

        return CheckResult.Warn(Name, found,
            $"Add sslmode=require (or verify-full) to the {server.Role} URL: the data and the password cross the network in clear text.");
    }
}
