using System.CommandLine;
using PgRelocate.Cli.Rendering;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Cli;

/// <summary>
/// Runs a command's body and turns its outcome into the documented exit code: user errors become one
/// line on stderr, Ctrl-C becomes 130, anything unexpected is reported as a bug (stack trace with -v).
/// </summary>
internal static class CommandRunner
{
    public static void SetAction(this Command command, Func<CommandContext, CancellationToken, Task<ExitCode>> body) =>
        command.SetAction((parse, ct) => RunAsync(parse, body, ct));

    private static async Task<int> RunAsync(ParseResult parse, Func<CommandContext, CancellationToken, Task<ExitCode>> body, CancellationToken cancellationToken)
    {
        var verbose = parse.GetValue(GlobalOptions.Verbose);
        var json = parse.GetValue(GlobalOptions.Json);
        using var reporter = new ConsoleReporter(verbose, interactive: !json && ConsoleReporter.StderrIsTerminal);
        try
        {
            var context = new CommandContext(parse, reporter);
            var code = await body(context, cancellationToken);
            return (int)code;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            reporter.Stop();
            await Console.Error.WriteLineAsync("Interrupted.");
            return (int)ExitCode.Interrupted;
        }
        catch (PgRelocateException e)
        {
            reporter.Stop();
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            if (verbose && e.InnerException is not null)
            {
                await Console.Error.WriteLineAsync(e.InnerException.ToString());
            }

            return (int)e.ExitCode;
        }
        catch (Exception e) when (Db.IsDriverFailure(e))
        {
            // A session that broke where no caller named its side: still one line with the next step.
            reporter.Stop();
            await Console.Error.WriteLineAsync($"error: {Db.Describe(e, null, null, connected: true).Message}");
            return (int)ExitCode.Failed;
        }
        catch (Exception e)
        {
            reporter.Stop();
            await Console.Error.WriteLineAsync($"error: unexpected failure ({e.GetType().Name}): {e.Message}" + (verbose ? "" : " Run with -v for details."));
            if (verbose)
            {
                await Console.Error.WriteLineAsync(e.ToString());
            }

            return (int)ExitCode.Failed;
        }
    }
}
