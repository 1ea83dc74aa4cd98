using System.Collections.Concurrent;
using System.Text.Json;
using PgRelocate.Targets;

namespace PgRelocate.Cli.Rendering;

/// <summary>
/// What the command line says when a command is interrupted (Ctrl-C, SIGTERM), whichever path ends it: on
/// stderr "Interrupted." and, for a command that changes a target, what the target holds now (from the
/// engines' <see cref="TargetChanges"/>); with --json also one object on stdout, <c>"status": "interrupted"</c>
/// with the target's state, unless the command printed its own result already. Said once.
/// </summary>
internal static class Interruption
{
    private static readonly ConcurrentDictionary<string, string?> Fields = new(StringComparer.Ordinal);
    private static int _said;
    private static volatile bool _json;
    private static volatile bool _resultWritten;
    private static TargetOptions? _target;

    public static void Start(bool json) => _json = json;

    /// <summary>The target whose state an interruption reports.</summary>
    public static void Watch(TargetOptions into) => Volatile.Write(ref _target, into);

    /// <summary>A field of the command's own for the interrupted object (a migration's id).</summary>
    public static void Add(string name, string? value) => Fields[name] = value;

    /// <summary>The command printed its JSON result: an interruption prints no second object.</summary>
    public static void ResultWritten() => _resultWritten = true;

    public static void Say()
    {
        if (Interlocked.Exchange(ref _said, 1) != 0)
        {
            return;
        }

        var target = Volatile.Read(ref _target);
        var holds = target?.Changes.Describe(target.Connection.Database);
        Console.Error.WriteLine(holds is null ? "Interrupted." : "Interrupted. " + holds);
        if (!_json || _resultWritten)
        {
            return;
        }

        var result = new Dictionary<string, string?>(StringComparer.Ordinal) { ["status"] = "interrupted" };
        if (target is not null)
        {
            result["target"] = target.Connection.Display;
            result["targetState"] = JsonNamingPolicy.CamelCase.ConvertName(target.Changes.Condition.ToString());
            result["targetHolds"] = holds;
        }

        foreach (var (name, value) in Fields)
        {
            result[name] = value;
        }

        Console.Out.WriteLine(JsonSerializer.Serialize(result, JsonResults.Default.DictionaryStringString));
        Console.Out.Flush();
    }
}
