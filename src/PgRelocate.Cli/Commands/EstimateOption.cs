using System.CommandLine;
using PgRelocate.Errors;
using PgRelocate.Preflight;

namespace PgRelocate.Cli.Commands;

/// <summary>--no-estimate and --estimate-seconds, shared by <c>check</c> and <c>migrate</c> (whose check step measures the same).</summary>
internal static class EstimateOption
{
    public static readonly Option<bool> None = new("--no-estimate")
    {
        Description = "Skip the estimate: no sample reads of the source, no scratch table on the target.",
    };

    public static readonly Option<int> Seconds = new("--estimate-seconds")
    {
        Description = "How long the estimate may measure, in seconds.",
        DefaultValueFactory = _ => (int)EstimateOptions.DefaultBudget.TotalSeconds,
    };

    /// <summary>How long the estimate may measure; null with --no-estimate.</summary>
    /// <exception cref="UsageException">--estimate-seconds is out of its range.</exception>
    public static TimeSpan? Budget(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var seconds = parse.GetValue(Seconds);
        if (seconds is < 1 or > 3600)
        {
            throw new UsageException("--estimate-seconds must be between 1 and 3600.");
        }

        return parse.GetValue(None) ? null : TimeSpan.FromSeconds(seconds);
    }
}
