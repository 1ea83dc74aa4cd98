using PgRelocate.Clusters;
using PgRelocate.Tests.Harness;

namespace PgRelocate.Tests.Preflight;

/// <summary>
/// A PostgreSQL 14 source configured the way a provider or a DBA might have: settings applications notice
/// (time zone, date style, timeouts, memory per sort, search path) and one sized by the plan.
/// </summary>
public sealed class SettingsSourceServer : Pg14Server
{
    public static readonly string[] BehaviourChanged = ["TimeZone", "DateStyle", "statement_timeout", "work_mem", "search_path"];

    protected override LocalClusterOptions Options => base.Options with
    {
        Settings = new Dictionary<string, string>
        {
            ["TimeZone"] = "'Europe/Paris'",
            ["DateStyle"] = "'SQL, DMY'",
            ["statement_timeout"] = "'30s'",
            ["work_mem"] = "'16MB'",
            ["search_path"] = "'\"$user\", public, reporting'",
            ["shared_buffers"] = "'64MB'",
        },
    };
}
