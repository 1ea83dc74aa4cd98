using System.CommandLine;
using PgRelocate.Cli.Rendering;
using PgRelocate.Connections;
using PgRelocate.Errors;

namespace PgRelocate.Cli;

/// <summary>
/// Runs a command's body and turns its outcome into the documented exit code: after Ctrl-C or SIGTERM,
/// whatever the body threw, 130 "Interrupted."; a user error or an operational failure (a dropped
/// connection, a full disk) one line on stderr and its exit code; anything else is a bug: exit 70, a request
/// to report it, and its stack trace with -v.
/// </summary>
internal static class CommandRunner
{
    public static void SetAction(this Command command, Func<CommandContext, CancellationToken, Task<ExitCode>> body) =>
        command.SetAction((parse, ct) => RunAsync(parse, body, ct));

    private static async Task<int> RunAsync(ParseResult parse, Func<CommandContext, CancellationToken, Task<ExitCode>> body, CancellationToken cancellationToken)
    {
        var verbose = parse.GetValue(GlobalOptions.Verbose);
        var json = parse.GetValue(GlobalOptions.Json);
        Interruption.Start(json);
        using var reporter = new ConsoleReporter(verbose, interactive: !json && ConsoleReporter.StderrIsTerminal);
        ExitCode code;
        try
        {
            var context = new CommandContext(parse, reporter);
            code = await body(context, cancellationToken);
            if (cancellationToken.IsCancellationRequested && code != ExitCode.Interrupted)
            {
                // The body finished despite the signal; the exit code still says it was interrupted.
                code = code == ExitCode.Success ? code : ExitCode.Interrupted;
            }
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested)
        {
            // Cancelling breaks connections and pipes: whatever that made the body throw, the cause is the signal.
            reporter.Stop();
            if (verbose && e is not OperationCanceledException)
            {
                await Console.Error.WriteLineAsync(e.ToString());
            }

            code = ExitCode.Interrupted;
        }
        catch (Exception e) when (Failures.Operational(e) is { } failure)
        {
            reporter.Stop();
            await Console.Error.WriteLineAsync($"error: {Sentences.Printable(failure.Message)}");
            if (verbose && (failure.InnerException ?? (failure == e ? null : e)) is { } detail)
            {
                await Console.Error.WriteLineAsync(detail.ToString());
            }

            return (int)failure.ExitCode;
        }
        catch (Exception e)
        {
            reporter.Stop();
            await Console.Error.WriteLineAsync("error: " + Sentences.Printable(Failures.BugMessage(e)));
            await Console.Error.WriteLineAsync(verbose ? e.ToString() : "Run it again with -v to see the details.");
            return (int)ExitCode.Bug;
        }

        if (cancellationToken.IsCancellationRequested && code == ExitCode.Interrupted)
        {
            Cli.SayInterrupted();
        }

        return (int)code;
    }
}
