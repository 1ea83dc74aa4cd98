using PgRelocate.Clusters;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary>The system's server, with prepared transactions enabled so the check can find one.</summary>
public sealed class PreflightServer : PgServer
{
    protected override LocalClusterOptions Options => base.Options with
    {
        Settings = new Dictionary<string, string> { ["max_prepared_transactions"] = "5" },
    };
}
