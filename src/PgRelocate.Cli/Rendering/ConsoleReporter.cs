using System.Diagnostics;
using System.Globalization;
using PgRelocate.Errors;
using PgRelocate.Progress;
using Spectre.Console;

namespace PgRelocate.Cli.Rendering;

/// <summary>
/// Draws the engine's progress on stderr: live bars on a terminal, throttled plain lines otherwise (and
/// with --json), so stdout carries only the command's result.
/// </summary>
internal sealed class ConsoleReporter : IReporter, IDisposable
{
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(2);

    private readonly bool _verbose;
    private readonly bool _interactive;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, TaskState> _tasks = new(StringComparer.Ordinal);
    private readonly IAnsiConsole _stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
    private ProgressContext? _live;
    private TaskCompletionSource? _stopLive;
    private Task? _liveTask;

    public ConsoleReporter(bool verbose, bool interactive)
    {
        _verbose = verbose;
        _interactive = interactive;
    }

    public static IAnsiConsole Stdout { get; } = CreateStdout();

    public static bool StderrIsTerminal => !Console.IsErrorRedirected;

    public void Log(LogLevel level, string message)
    {
        if (level == LogLevel.Debug && !_verbose)
        {
            return;
        }

        var prefix = level switch
        {
            LogLevel.Warning => "warning: ",
            LogLevel.Error => "error: ",
            _ => "",
        };
        message = Sentences.Printable(message);
        lock (_lock)
        {
            if (_interactive)
            {
                var color = level switch { LogLevel.Warning => "yellow", LogLevel.Error => "red", LogLevel.Debug => "grey", _ => "default" };
                _stderr.MarkupLine($"[{color}]{Markup.Escape(prefix + message)}[/]");
            }
            else
            {
                Console.Error.WriteLine(prefix + message);
            }
        }
    }

    public void Progress(ProgressUpdate update)
    {
        lock (_lock)
        {
            if (!_tasks.TryGetValue(update.Task, out var state))
            {
                state = new TaskState(Stopwatch.StartNew());
                _tasks[update.Task] = state;
            }

            state.Last = update;
            if (_interactive)
            {
                UpdateLive(update, state);
            }
            else if (update.Finished || state.LastPrinted is null || state.LastPrinted.Elapsed >= PlainInterval)
            {
                Console.Error.WriteLine(Describe(update, state));
                state.LastPrinted = Stopwatch.StartNew();
            }
        }
    }

    /// <summary>Ends live rendering so that what follows prints below the bars.</summary>
    public void Stop()
    {
        Task? live;
        lock (_lock)
        {
            _stopLive?.TrySetResult();
            live = _liveTask;
            _live = null;
            _liveTask = null;
            _stopLive = null;
        }

        live?.GetAwaiter().GetResult();
    }

    public void Dispose() => Stop();

    private static IAnsiConsole CreateStdout()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected)
        {
            // A file or a pipe has no width: never wrap lines that scripts read.
            console.Profile.Width = 4096;
        }

        return console;
    }

    private void UpdateLive(ProgressUpdate update, TaskState state)
    {
        if (_live is null)
        {
            var ready = new TaskCompletionSource<ProgressContext>(TaskCreationOptions.RunContinuationsAsynchronously);
            _stopLive = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var stop = _stopLive.Task;
            _liveTask = _stderr.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async ctx =>
                {
                    ready.SetResult(ctx);
                    await stop;
                    ctx.Refresh();
                });
            _live = ready.Task.GetAwaiter().GetResult();
        }

        state.Bar ??= _live.AddTask(update.Task, autoStart: true, maxValue: Math.Max(1, update.Total ?? 1));
        var bar = state.Bar;
        bar.IsIndeterminate = update.Total is null && !update.Finished;
        if (update.Total is { } total)
        {
            bar.MaxValue = Math.Max(1, total);
        }

        bar.Value = update.Finished ? bar.MaxValue : Math.Min(update.Done, bar.MaxValue);
        bar.Description = Markup.Escape(Describe(update, state));
        if (update.Finished)
        {
            bar.StopTask();
        }
    }

    private static string Describe(ProgressUpdate u, TaskState state)
    {
        var parts = new List<string>();
        var count = u.Total is { } t
            ? string.Create(CultureInfo.InvariantCulture, $"{u.Done}/{t} {u.Unit}")
            : string.Create(CultureInfo.InvariantCulture, $"{u.Done} {u.Unit}");
        parts.Add(count.Trim());
        if (u.Bytes is { } bytes)
        {
            var seconds = Math.Max(0.001, state.Clock.Elapsed.TotalSeconds);
            parts.Add($"{Units.Bytes(bytes)} at {Units.Rate(bytes / seconds)}");
        }

        var text = $"{u.Task}: {string.Join(", ", parts)}";
        if (u.Finished)
        {
            text += " (done)";
        }
        else if (u.Detail is { Length: > 0 } detail)
        {
            text += " - " + (detail.Length > 60 ? detail[..57] + "..." : detail);
        }

        return text;
    }

    private sealed class TaskState(Stopwatch clock)
    {
        public Stopwatch Clock { get; } = clock;

        public Stopwatch? LastPrinted { get; set; }

        public ProgressUpdate? Last { get; set; }

        public ProgressTask? Bar { get; set; }
    }
}
