using System.Text.RegularExpressions;

namespace PgRelocate.Runners;

/// <summary>One error pg_restore reported, with the archive entry it came from.</summary>
public sealed record RestoreIssue(string Entry, string Message, string? Command, string? HarmlessBecause)
{
    public bool IsHarmless => HarmlessBecause is not null;

    public override string ToString() => Entry.Length > 0 ? $"{Entry}: {Message}" : Message;
}

/// <summary>
/// Reads pg_restore's stderr into <see cref="RestoreIssue"/>s and decides which are harmless. A restore with
/// only harmless errors completed; anything else failed. The harmless list is short on purpose: each entry
/// is an error that managed targets raise for statements that only a superuser or the extension's owner may
/// run, and whose absence changes no data or behaviour.
/// </summary>
internal sealed partial class RestoreErrorClassifier
{
    private readonly List<RestoreIssue> _issues = [];
    private string _entry = "";
    private string? _message;
    private string? _command;

    public IReadOnlyList<RestoreIssue> Issues
    {
        get
        {
            Flush();
            return _issues;
        }
    }

    /// <summary>Feeds one stderr line, in order.</summary>
    public void OnLine(string line)
    {
        var entry = TocEntry().Match(line);
        if (entry.Success)
        {
            Flush();
            _entry = entry.Groups[1].Value.Trim();
            return;
        }

        if (line.StartsWith("pg_restore: error: ", StringComparison.Ordinal))
        {
            Flush();
            _message = line["pg_restore: error: ".Length..].Replace("could not execute query: ", "", StringComparison.Ordinal).Trim();
            return;
        }

        if (_message is not null && line.StartsWith("Command was: ", StringComparison.Ordinal))
        {
            _command = line["Command was: ".Length..].Trim();
            Flush();
            return;
        }

        if (line.StartsWith("pg_restore: while PROCESSING TOC", StringComparison.Ordinal) || line.StartsWith("pg_restore: warning: errors ignored", StringComparison.Ordinal))
        {
            Flush();
        }
    }

    private void Flush()
    {
        if (_message is null)
        {
            return;
        }

        _issues.Add(new RestoreIssue(_entry, _message, _command, Harmless(_message, _command)));
        _message = null;
        _command = null;
        _entry = "";
    }

    /// <summary>Why this error does no harm, or null when it does.</summary>
    internal static string? Harmless(string message, string? command)
    {
        // Only the owner's privilege: "extension ... does not exist" means the extension is missing, which is not harmless.
        if (command is not null && command.StartsWith("COMMENT ON EXTENSION", StringComparison.Ordinal) && message.Contains("must be owner of extension ", StringComparison.Ordinal))
        {
            return "a comment on an extension needs the extension's owner; the extension itself is installed";
        }

        if (message.Contains("extension \"plpgsql\" already exists", StringComparison.Ordinal)
            || message.Contains("must be owner of extension plpgsql", StringComparison.Ordinal)
            || message.Contains("language \"plpgsql\" already exists", StringComparison.Ordinal))
        {
            return "plpgsql is built in and already installed on the target";
        }

        if (message.Contains("schema \"public\" already exists", StringComparison.Ordinal))
        {
            return "the target already has the public schema";
        }

        return null;
    }

    [GeneratedRegex(@"^pg_restore: from TOC entry \d+; \d+ \d+ (.*)$")]
    private static partial Regex TocEntry();
}
