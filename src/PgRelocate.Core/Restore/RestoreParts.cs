using PgRelocate.Archives;
using PgRelocate.Connections;
using PgRelocate.Runners;
using PgRelocate.Tools;

namespace PgRelocate.Restore;

/// <summary>
/// The pg_restore runs of one restore as named parts (pre-data, lane 2, post-data): each part must succeed
/// (harmless errors aside) or the restore stops there, and what failed and what was left undone are noted for
/// the result, so no part is ever skipped silently. Also leaves out the rows of extension tables the login
/// role may not write (see <see cref="ExtensionTables"/>), and the schemas the target already has (see
/// <see cref="ExistingSchemas"/>), and says so.
/// </summary>
internal sealed class RestoreParts(PgRestore runner, PgConnectionInfo target, IReadOnlyList<ArchiveEntry> archive, ExistingSchemas existing, Action<PgRestoreStep>? onStep = null)
{
    private readonly Lock _lock = new();
    private readonly List<RestoreIssue> _notes = [.. existing.Notes];
    private readonly IReadOnlyList<ArchiveEntry> _toc = existing.Restored(archive);
    private (string Path, Task<string?> List)? _whole;

    /// <summary>The archive's entries this restore restores: all but the schemas the target already has.</summary>
    public IReadOnlyList<ArchiveEntry> Toc => _toc;

    /// <summary>
    /// The entry list for a run that would otherwise take every entry of its sections: a list of <see cref="Toc"/>
    /// (written into <paramref name="folder"/>, once) when entries are left out, else null (every entry).
    /// </summary>
    public Task<string?> WholeSelectionAsync(string folder, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, "restored.list");
        lock (_lock)
        {
            if (_whole is not { } written || written.Path != path)
            {
                _whole = written = (path, existing.ListFileAsync(archive, path, cancellationToken));
            }

            return written.List;
        }
    }

    public PgTool Tool => runner.Tool;

    /// <summary>Whether the target is a millisecond or more away (<see cref="RoundTrip.Far"/>), measured on a session of its own.</summary>
    public async Task<bool> TargetIsFarAsync(CancellationToken cancellationToken)
    {
        await using var conn = await Db.OpenAsync(target, "target", cancellationToken);
        return await RoundTrip.MeasureAsync(conn, cancellationToken) >= RoundTrip.Far;
    }

    /// <summary>The restore replaces what the target held (it was emptied): rows an earlier restore added to extensions' configuration tables are replaced too.</summary>
    public bool Replacing { get; init; }

    /// <summary>A part failed: the restore did not complete.</summary>
    public bool Failed { get; private set; }

    /// <summary>What the runs' own errors do not say: parts that failed, parts not run, rows left out.</summary>
    public IReadOnlyList<RestoreIssue> Notes
    {
        get
        {
            lock (_lock)
            {
                return [.. _notes];
            }
        }
    }

    /// <summary>Runs one part: <paramref name="call"/>, its steps also counted by the restore's progress.</summary>
    /// <exception cref="RestorePartFailedException">pg_restore failed on it; the failure is noted.</exception>
    public async Task RunAsync(PgRestoreCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var label = call.Label;
        var steps = call.OnStep;
        var outcome = await runner.RunAsync(
            call with
            {
                OnStep = step =>
                {
                    steps?.Invoke(step);
                    onStep?.Invoke(step);
                },
            },
            cancellationToken);
        if (outcome.Succeeded)
        {
            return;
        }

        lock (_lock)
        {
            Failed = true;
            if (label.Length > 0)
            {
                _notes.Add(new RestoreIssue(label, $"pg_restore failed on the {label} (exit code {outcome.ExitCode})", null, null));
            }
        }

        throw new RestorePartFailedException(label.Length > 0 ? label : "restore");
    }

    /// <summary>Whether <see cref="RunPreDataAsync"/> would restore the pre-data section in waves with <paramref name="lanes"/> lanes.</summary>
    public bool PreDataInWaves(int lanes) => PreDataWaves.Plan(_toc, lanes) is not null;

    /// <summary>
    /// The pre-data section of <paramref name="archive"/>: in waves of up to <paramref name="lanes"/> pg_restore runs
    /// side by side when there is enough to share (see <see cref="PreDataWaves"/>; pg_restore restores the section
    /// in one session even with --jobs), else in one run; lists go into <paramref name="folder"/>. A failed run is
    /// noted under its own name and ends the section, as the part "pre-data".
    /// </summary>
    /// <exception cref="RestorePartFailedException">A run failed; the waves after it were not run.</exception>
    public async Task RunPreDataAsync(string archive, int lanes, string folder, CancellationToken cancellationToken)
    {
        var waves = await PreDataWaves.CallsAsync(archive, _toc, lanes, folder, cancellationToken)
            ?? [[new PgRestoreCall("pre-data") { Archive = archive, Sections = ArchiveSections.PreData, EntryList = await WholeSelectionAsync(folder, cancellationToken) }]];
        try
        {
            await PreDataWaves.RunAsync(waves, lanes, async call =>
            {
                await RunAsync(call, cancellationToken);
                return call;
            }, runner.Log);
        }
        catch (RestorePartFailedException)
        {
            throw new RestorePartFailedException("pre-data");
        }
    }

    /// <summary>
    /// The foreign keys of <paramref name="keys"/> added NOT VALID and validated on <paramref name="jobs"/> sessions (see
    /// <see cref="ForeignKeyValidation"/>), then, as the part "foreign keys", pg_restore's run of those that failed there
    /// and of the entries <paramref name="after"/> them (a list in <paramref name="folder"/>).
    /// </summary>
    public async Task ValidateForeignKeysAsync(string archive, IReadOnlyList<ValidatedForeignKey> keys, IReadOnlyList<ArchiveEntry> after, int jobs, string folder, CancellationToken cancellationToken)
    {
        var rest = await ForeignKeyValidation.RunAsync(keys, after, jobs, ForeignKeyValidation.DefaultMemory, ct => Db.OpenAsync(target, "target", ct), runner.Log, cancellationToken);
        if (rest.Count == 0)
        {
            return;
        }

        var list = Path.Combine(folder, "foreign-keys.list");
        await File.WriteAllLinesAsync(list, rest.Select(e => e.ListLine), cancellationToken);
        await RunAsync(new PgRestoreCall("foreign keys") { Archive = archive, Sections = ArchiveSections.PostData, EntryList = list }, cancellationToken);
    }

    /// <summary>Notes what was not restored because an earlier part failed.</summary>
    public void NotRun(string part, string what)
    {
        lock (_lock)
        {
            _notes.Add(new RestoreIssue(part, "not restored: " + what, null, null));
        }
    }

    /// <summary>
    /// Once the pre-data section is in (the extensions exist): the ids of the rows entries to leave out because
    /// their table belongs to an extension and the login role may not write it, each noted as a warning.
    /// </summary>
    public async Task<IReadOnlySet<int>> SkipUnwritableExtensionRowsAsync(CancellationToken cancellationToken)
    {
        var skipped = await ExtensionTables.UnwritableAsync(target, _toc, cancellationToken);
        if (Replacing)
        {
            foreach (var table in await ExtensionTables.ClearRestoredRowsAsync(target, _toc, cancellationToken))
            {
                runner.Log($"# cleared: the rows of configuration table {table} that the archive brings again");
            }
        }

        lock (_lock)
        {
            _notes.AddRange(skipped.Select(s => s.Warning));
        }

        foreach (var s in skipped)
        {
            runner.Log($"# left out: {s.Warning.Entry} ({s.Warning.Message})");
        }

        return skipped.Select(s => s.Id).ToHashSet();
    }
}

/// <summary>One part of a restore ended with pg_restore's non-zero exit: the log and the classified errors say why.</summary>
internal sealed class RestorePartFailedException(string part) : Exception($"pg_restore failed on the {part}")
{
    public string Part { get; } = part;
}
