using System.Globalization;
using System.Text;
using PgRelocate.Errors;

namespace PgRelocate.Tools;

/// <summary>
/// Starts this same program again in a session of its own (<c>setsid --fork</c>), so that neither the terminal
/// that asked nor its hang-up reaches it, with its standard input closed and its output appended to a log file.
/// Secrets go in <c>environment</c>, never in the arguments, which every user of the machine can read. Runs
/// through <see cref="ChildProcess"/>: <c>setsid</c> returns as soon as the new session is made, and the shell
/// in it says the program's process id before it becomes the program.
/// </summary>
public static class DetachedStart
{
    private const string LogVariable = "PGRELOCATE_LOG";

    /// <summary>Starts the program with <paramref name="arguments"/> and returns the process id it runs as.</summary>
    /// <exception cref="PgRelocateException">It could not be started.</exception>
    public static async Task<int> StartAsync(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, string log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(environment);
        var self = Environment.ProcessPath ?? throw new PgRelocateException("Cannot find this program's path to start it in the background.");
        var program = new List<string> { self };
        if (Path.GetFileNameWithoutExtension(self) is "dotnet")
        {
            // Run as 'dotnet pgrelocate.dll': the first argument is the program's own file.
            program.Add(Environment.GetCommandLineArgs()[0]);
        }

        // sh says its process id (which exec keeps for the program) and sends the output to the log: the program
        // and its arguments arrive as "$@", never through the shell's parsing.
        var output = new StringBuilder();
        var errors = new StringBuilder();
        var spec = new ChildProcessSpec("setsid", ["--fork", "sh", "-c", "echo $$; exec \"$0\" \"$@\" </dev/null >>\"$" + LogVariable + "\" 2>&1", .. program, .. arguments])
        {
            Environment = new Dictionary<string, string>(environment, StringComparer.Ordinal) { [LogVariable] = log },
            Stdout = async (stream, ct) =>
            {
                using var reader = new StreamReader(stream, leaveOpen: true);
                output.Append(await reader.ReadToEndAsync(ct));
            },
            StderrLine = line => errors.AppendLine(line),
        };
        var code = await ChildProcess.RunAsync(spec, cancellationToken);
        return code == 0 && int.TryParse(output.ToString().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? pid
            : throw new PgRelocateException($"Could not start pgrelocate in the background{(errors.Length == 0 ? "" : ": " + errors.ToString().Trim())}.");
    }
}
