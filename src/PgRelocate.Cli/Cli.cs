using System.CommandLine;
using System.Runtime.InteropServices;
using PgRelocate.Cli.Commands;

using PgRelocate.Errors;

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
            await Console.Error.WriteLineAsync($"error: {parse.Errors[0].Message} Run '{path} --help' for usage.");
            return (int)ExitCode.Usage;
        }

        // Ctrl-C and SIGTERM cancel the command's token and let it clean up (stop child processes, lift a
        // read-only source) for as long as that takes; a second Ctrl-C ends the process at once.
        using var cancel = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            if (!cancel.IsCancellationRequested)
            {
                context.Cancel = true;
                cancel.Cancel();
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, cancel.Token);
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
