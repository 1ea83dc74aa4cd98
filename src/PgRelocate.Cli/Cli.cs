using System.CommandLine;
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

        root.Subcommands.Add(DumpCommand.Create());
        root.Subcommands.Add(RestoreCommand.Create());
        root.Subcommands.Add(CopyCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
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

        return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
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
