using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using PgRelocate.Cli.Rendering;
using PgRelocate.Connections;
using PgRelocate.Errors;
using PgRelocate.Progress;
using PgRelocate.Tools;
using Spectre.Console;

namespace PgRelocate.Cli;

/// <summary>What a command's action gets: the parsed options, where to write, how to report progress.</summary>
internal sealed class CommandContext
{
    private PgBinaries? _binaries;

    public CommandContext(ParseResult parse, ConsoleReporter reporter)
    {
        Parse = parse;
        Reporter = reporter;
        Json = parse.GetValue(GlobalOptions.Json);
        Verbose = parse.GetValue(GlobalOptions.Verbose);
    }

    public ParseResult Parse { get; }

    public bool Json { get; }

    public bool Verbose { get; }

    public ConsoleReporter Reporter { get; }

    /// <summary>The console for results (stdout). Progress and logs go to stderr through <see cref="Reporter"/>.</summary>
    public IAnsiConsole Out => ConsoleReporter.Stdout;

    public PgBinaries Binaries => _binaries ??= new PgBinaries(Parse.GetValue(GlobalOptions.PgBin));

    /// <summary>Parses a connection option, naming the option in the error.</summary>
    public PgConnectionInfo Connection(Option<string> option) => ParseConnection(Parse.GetValue(option) ?? "", option.Name);

    /// <summary>A connection given by an option, else by an environment variable; null when neither is given.</summary>
    public PgConnectionInfo? Connection(Option<string?> option, string variable)
    {
        var text = Parse.GetValue(option) ?? Environment.GetEnvironmentVariable(variable);
        return string.IsNullOrWhiteSpace(text) ? null : ParseConnection(text, option.Name);
    }

    private static PgConnectionInfo ParseConnection(string text, string optionName)
    {
        try
        {
            return PgConnectionInfo.Parse(text);
        }
        catch (UsageException e)
        {
            throw new UsageException($"{optionName}: {e.Message}", e);
        }
    }

    /// <summary>Writes <paramref name="value"/> as the command's JSON result on stdout, in its <paramref name="shape"/> (one of <see cref="JsonResults"/>).</summary>
    public void WriteJson<T>(T value, Func<JsonResults, JsonTypeInfo<T>> shape)
    {
        Interruption.ResultWritten();
        Console.Out.WriteLine(JsonSerializer.Serialize(value, shape(JsonResults.Default)));
    }

    /// <summary>The target this command changes: after an interrupt, what it holds is said (and given with --json).</summary>
    public void Watch(PgRelocate.Targets.TargetOptions into) => Interruption.Watch(into);

    /// <summary>One object on one line (JSON Lines), for a command that prints one per change until it ends.</summary>
    public void WriteJsonLine<T>(T value, Func<JsonResults, JsonTypeInfo<T>> shape)
    {
        Interruption.ResultWritten();
        Console.Out.WriteLine(JsonSerializer.Serialize(value, shape(JsonResults.Lines)));
    }
}
