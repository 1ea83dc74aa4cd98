using PgRelocate.Errors;
using PgRelocate.Migration.Steps;
using PgRelocate.Tools;

namespace PgRelocate.Migration;

/// <summary>
/// What to do about a migration that did not complete, said after its error by `migrate` and by `status` (text and
/// JSON): the <c>--resume</c> that goes on from it, with everything that resume needs so it works pasted as printed
/// (its connections without passwords, its work folder, <c>--not-consistent</c> where the copy needs it); or, for a
/// first run refused before it changed anything, to run the migration again, which a resume could not do
/// differently (it keeps the options the journal fixes).
/// </summary>
public static class NextStep
{
    /// <summary>The sentence to print after the migration's error; null when it completed or still runs.</summary>
    public static string? For(MigrationJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        if (journal.Status is MigrationStatus.Completed or MigrationStatus.Pending || (journal.Status == MigrationStatus.Running && journal.IsRunningElsewhere()))
        {
            return null;
        }

        return ChangedNothing(journal)
            ? "Once that is fixed, run the same 'pgrelocate migrate' command again: a new migration (this one changed nothing, and a resume would keep its options)."
            : InstanceJournal.IsParent(journal) ? $"Resume it (the databases already moved are not moved again) with: {ResumeCommand(journal)}"
            : $"Resume it with: {ResumeCommand(journal)}";
    }

    /// <summary>The <c>migrate --resume</c> that goes on from the migration, pasted as printed; passwords come from PGPASSWORD or the password file.</summary>
    public static string ResumeCommand(MigrationJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        var folder = Path.GetDirectoryName(journal.Folder);
        var defaultFolder = Path.GetFullPath(Path.Combine(StatePaths.Root, "migrations"));
        var workDir = folder is null || string.Equals(Path.GetFullPath(folder), defaultFolder, StringComparison.Ordinal) ? "" : " --workdir " + PastedCommand.Quote(folder);
        return $"pgrelocate migrate --resume {journal.Id} --source {PastedCommand.Connection(journal.Source)} --target {PastedCommand.Connection(journal.Target)}{workDir}{(NeedsNotConsistent(journal) ? " --not-consistent" : "")}";
    }

    /// <summary>
    /// Whether a resume must accept a copy the source was not kept read-only for: a direct copy began and did not
    /// finish, and the source is not read-only as the journal left it (never made so, or lifted since).
    /// </summary>
    public static bool NeedsNotConsistent(MigrationJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        return InstanceJournal.IsParent(journal)
            ? InstanceJournal.Children(journal).Any(c => NeedsNotConsistent(c.Child))
            : DirectCopyStep.LeftOnTarget(journal) && !ReadOnlySourceStep.LeftReadOnly(journal);
    }

    /// <summary>A first run (never resumed) that failed with a refusal saying it changed nothing.</summary>
    private static bool ChangedNothing(MigrationJournal journal) =>
        journal.Status == MigrationStatus.Failed
        && journal.Error is { } error && error.TrimEnd().EndsWith(Sentences.NothingChanged, StringComparison.Ordinal)
        && !journal.Log.Any(l => l.Contains("Resumed by process", StringComparison.Ordinal));
}
