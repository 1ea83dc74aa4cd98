using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using PgRelocate.Cli.Commands;
using PgRelocate.Errors;
using PgRelocate.Tools;

namespace PgRelocate.Cli;

/// <summary>The command tree. Each command lives in Commands/ and registers itself here with one line.</summary>
internal static class Cli
{
    public static RootCommand Build()
    {
        var root = new RootCommand(
            "PgRelocate moves a PostgreSQL database from one provider to another: check, dump, stage, restore, verify, cut over.");
        foreach (var option in GlobalOptions.All)
        {
            root.Options.Add(option);
        }

        root.Options.OfType<VersionOption>().Single().Action = new PrintVersion();

        root.Subcommands.Add(CheckCommand.Create());
        root.Subcommands.Add(SettingsCommand.Create());
        root.Subcommands.Add(DumpCommand.Create());
        root.Subcommands.Add(RestoreCommand.Create());
        root.Subcommands.Add(VerifyCommand.Create());
        root.Subcommands.Add(CopyCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(MigrateCommand.Create());
        root.Subcommands.Add(ListCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(CancelCommand.Create());
        root.Subcommands.Add(CutoverCommand.Create());
        root.Subcommands.Add(RollbackCommand.Create());
        root.Subcommands.Add(FinishCommand.Create());
        root.Subcommands.Add(UrlCommand.Create());
        root.Subcommands.Add(StagedCommand.Create());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = Build();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var command = parse.CommandResult.Command;
            var path = command == root ? "pgrelocate" : "pgrelocate " + string.Join(' ', CommandPath(parse.CommandResult));
            await Console.Error.WriteLineAsync($"error: {Sentences.Printable(parse.Errors[0].Message)} Run '{path} --help' for usage.");
            return (int)ExitCode.Usage;
        }

        // SIGINT and SIGTERM cancel the command's token: it stops its child processes, deletes its temporary
        // folders and lifts a read-only source. A thread stuck in a blocking call (a read from a stalled
        // connection) may never see the token, so after a grace period, or at a second signal, the process
        // cleans up what it can without the network and ends with 130 anyway.
        using var cancel = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!cancel.IsCancellationRequested)
            {
                cancel.Cancel();
                _ = Task.Delay(InterruptGrace).ContinueWith(_ => EndInterrupted(), TaskScheduler.Default);
            }
            else
            {
                EndInterrupted();
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, cancel.Token);
    }

    /// <summary>How long a cancelled command may take to stop on its own before the process ends it.</summary>
    public static readonly TimeSpan InterruptGrace = TimeSpan.FromSeconds(8);

    /// <summary>Prints "Interrupted." and what the target holds now (and the --json object) once, whichever path ends the process.</summary>
    public static void SayInterrupted() => Rendering.Interruption.Say();

    private static void EndInterrupted()
    {
        Interrupts.CleanUp();
        SayInterrupted();
        Environment.Exit((int)ExitCode.Interrupted);
    }

    /// <summary>
    /// The version and the commit it was built from, as "pgrelocate 1.0.0 (commit 0123abc…)": the SDK appends the
    /// commit to the informational version ("1.0.0+0123abc…") when it builds from a git clone; "unknown" otherwise.
    /// </summary>
    public static string VersionLine() =>
        VersionLine(typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(Cli).Assembly.GetName().Version?.ToString(3) ?? "unknown");

    /// <summary>The version line of an informational version ("1.0.0+sha", or "1.0.0" built without git).</summary>
    internal static string VersionLine(string informational)
    {
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        var (version, commit) = plus < 0 ? (informational, "") : (informational[..plus], informational[(plus + 1)..]);
        return $"pgrelocate {version} (commit {(commit.Length > 0 ? commit : "unknown")})";
    }

    private sealed class PrintVersion : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(VersionLine());
            return (int)ExitCode.Success;
        }
    }

    private static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult result)
    {
        var names = new Stack<string>();
        for (var r = result; r?.Parent is System.CommandLine.Parsing.CommandResult parent; r = parent)
        {
            names.Push(r.Command.Name);
        }

        return names;
    }
}
