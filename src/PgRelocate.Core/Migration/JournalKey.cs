using System.Globalization;

namespace PgRelocate.Migration;

/// <summary>
/// One output of a step's record in the journal, typed: its name (the key under <c>outputs</c> in journal.json) and
/// how its value is written as text and read back. A step declares the outputs it writes as static keys
/// (<c>DumpStep.Archive</c>, <c>OnlineCutoverStep.WriteDowntime</c>); they are read and written only through
/// <see cref="StepRecord.Get{T}"/>, <see cref="StepRecord.Set{T}"/> and <see cref="MigrationJournal.Output{T}"/>.
/// The text is the one earlier versions wrote, so a journal they left still resumes.
/// </summary>
/// <typeparam name="T">The value's type; a value type is given nullable (<c>long?</c>), so that a missing output reads as null.</typeparam>
public sealed class JournalKey<T>
{
    private readonly Func<T, string> _write;
    private readonly Func<string, T?> _read;

    internal JournalKey(string name, Func<T, string> write, Func<string, T?> read) => (Name, _write, _read) = (name, write, read);

    /// <summary>The output's name in the journal.</summary>
    public string Name { get; }

    internal string Write(T value) => _write(value);

    /// <summary>The value written as <paramref name="text"/>; null (default) for text it cannot read.</summary>
    internal T? Read(string text) => _read(text);

    public override string ToString() => Name;
}

/// <summary>The kinds of step outputs, each with the text journals have always held for it.</summary>
internal static class JournalKey
{
    /// <summary>Text as it is: a path, a location, a name.</summary>
    public static JournalKey<string> Text(string name) => new(name, v => v, t => t);

    /// <summary>A whole number (rows, bytes, changes).</summary>
    public static JournalKey<long?> Count(string name) =>
        new(name, v => v!.Value.ToString(CultureInfo.InvariantCulture), t => long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null);

    /// <summary>True or false, written as .NET writes a bool ("True", "False").</summary>
    public static JournalKey<bool?> Flag(string name) => new(name, v => v!.Value.ToString(), t => bool.TryParse(t, out var v) ? v : null);

    /// <summary>A duration, written in seconds to the millisecond ("12.345").</summary>
    public static JournalKey<TimeSpan?> Seconds(string name) =>
        new(name, v => v!.Value.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture), t => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? TimeSpan.FromSeconds(s) : null);

    /// <summary>A moment, written round-trip ("O").</summary>
    public static JournalKey<DateTimeOffset?> Time(string name) =>
        new(name, v => v!.Value.ToString("O", CultureInfo.InvariantCulture), t => DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var v) ? v : null);

    /// <summary>A list of names, one a line; empty entries are left out when read.</summary>
    public static JournalKey<IReadOnlyList<string>> Lines(string name) =>
        new(name, v => string.Join('\n', v), t => t.Split('\n', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>One of an enum's members, written as its name in lower case ("on", "lifted").</summary>
    public static JournalKey<TState?> State<TState>(string name)
        where TState : struct, Enum =>
        new(name, v => v!.Value.ToString().ToLowerInvariant(), t => Enum.TryParse<TState>(t, ignoreCase: true, out var v) && Enum.IsDefined(v) ? v : null);

    /// <summary>A value of a step's own kind: <paramref name="write"/> and <paramref name="read"/> say its text.</summary>
    public static JournalKey<T> Of<T>(string name, Func<T, string> write, Func<string, T?> read) => new(name, write, read);
}
